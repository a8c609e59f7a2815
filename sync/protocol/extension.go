package protocol

// Our extensions of the national interface. E001 (trust.go) and E002 are
// our own transactions: a real gateway does not serve them, and the
// adapter names them as ours. The payment fields below are SANDBOX-ONLY and
// TEMPORARY: the old settlement core reads what the sandbox computes of
// the patient's own part from 1101 (payinfo), 2206 (payplan) and 2207
// (payresult). In the real system that part is the payment channel's, a
// counterparty of its own; these go when the payment leg lands.

// PayInfo (SANDBOX-ONLY, TEMPORARY) is what a settlement of this person will
// be able to do with the self-pay part.
type PayInfo struct {
	Agreement       bool        `json:"agreement"`
	Sources         []PaySource `json:"sources"` // in the patient's priority order
	FamilyOf        *FamilyLink `json:"family_of,omitempty"`
	ConfirmRequired bool        `json:"confirm_required"`
	LimitPerTxn     Amount      `json:"limit_per_txn"`
	LimitDaily      Amount      `json:"limit_daily"`
}

// Funding source kinds.
const (
	SourceAccount = "personal_account" // 医保个人账户
	SourceBank    = "bank_card"        // password-free debit
	SourceCredit  = "credit_line"      // medical credit line
)

type PaySource struct {
	Kind  string `json:"kind"`
	Label string `json:"label"` // masked for display, e.g. "bank card ****1234"
}

// Family-pay link modes.
const (
	FamilyFrictionless = "frictionless"  // 自动结算
	FamilyConfirmFirst = "confirm_first" // 有感: confirmed before paying
)

type FamilyLink struct {
	SignerPsnNo string `json:"signer_psn_no"`
	Relation    string `json:"relation"` // spouse, parent, child
	Mode        string `json:"mode"`
}

// Payment statuses of the self-pay part.
const (
	PayPaid            = "paid"             // debited in full (or nothing to pay)
	PayPending         = "pending"          // left for the kiosk or window; Reason says why
	PayConfirmRequired = "confirm_required" // confirm-first family pay
	PayRefunded        = "refunded"
)

// PayResult tells what happened to the self-pay part (acct_pay +
// psn_cash_pay). It is never partial: either one source paid all of it, or
// none did.
type PayResult struct {
	Status     string `json:"status"`
	Source     string `json:"source,omitempty"`
	PayerPsnNo string `json:"payer_psn_no,omitempty"`
	AuthNo     string `json:"auth_no,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// E002 policy parameters (extension): what the agent needs to estimate a
// split offline.

type PolicyInput struct {
	Data PolicyQuery `json:"data"`
}

type PolicyQuery struct {
	Insutype string `json:"insutype,omitempty"` // empty: all
}

type PolicyOutput struct {
	Data Policy `json:"data"`
}

// Policy is the platform's outpatient policy, as published.
type Policy struct {
	Version          string            `json:"version"`
	Insurance        []InsurancePolicy `json:"insurance"`
	ClassBSelfPayPct int64             `json:"class_b_selfpay_pct"`
	LimitPerTxn      Amount            `json:"limit_per_txn"`
	LimitDaily       Amount            `json:"limit_daily"`
}

type InsurancePolicy struct {
	Insutype   string `json:"insutype"`
	Deductible Amount `json:"deductible"`
	RatioPct   int64  `json:"ratio_pct"`
	YearCap    Amount `json:"year_cap"`
}
