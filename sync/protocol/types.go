package protocol

import "github.com/seed-a859fada/medterm/agent/money"

// Amount is the wire form of money: a JSON number in yuan, two decimals at
// most, decoded exactly.
type Amount = money.Decimal

// 9001 sign-in.

type SignInInput struct {
	SignIn SignInData `json:"signIn"`
}

type SignInData struct {
	OpterNo string `json:"opter_no"`
	Mac     string `json:"mac"`
	IP      string `json:"ip"`
}

type SignInOutput struct {
	Signinoutb SignInResult `json:"signinoutb"`
}

type SignInResult struct {
	SignNo   string `json:"sign_no"`
	SignTime string `json:"sign_time"`
}

// Certificate types (mdtrt_cert_type).
const (
	CertQR     = "01"
	CertIDNo   = "02"
	CertSSCard = "03"
)

// 1101 person info.

type PersonInfoInput struct {
	Data PersonQuery `json:"data"`
}

type PersonQuery struct {
	MdtrtCertType string `json:"mdtrt_cert_type"`
	MdtrtCertNo   string `json:"mdtrt_cert_no"`
	CardSn        string `json:"card_sn"`
	Begntime      string `json:"begntime"`
	PsnCertType   string `json:"psn_cert_type"`
	Certno        string `json:"certno"`
	PsnName       string `json:"psn_name"`
}

type PersonInfoOutput struct {
	Baseinfo BaseInfo   `json:"baseinfo"`
	Insuinfo []InsuInfo `json:"insuinfo"`
	Payinfo  PayInfo    `json:"payinfo"`
}

type BaseInfo struct {
	PsnNo       string `json:"psn_no"`
	PsnCertType string `json:"psn_cert_type"`
	Certno      string `json:"certno"`
	PsnName     string `json:"psn_name"`
	Gend        string `json:"gend"`
	Brdy        string `json:"brdy"`
	Age         int    `json:"age"`
}

type InsuInfo struct {
	Insutype      string `json:"insutype"`
	PsnType       string `json:"psn_type"`
	Balc          Amount `json:"balc"`
	InsuplcAdmdvs string `json:"insuplc_admdvs"`
	PsnInsuStas   string `json:"psn_insu_stas"` // "1" active
}

// Insurance types.
const (
	InsutypeEmployee = "310" // employee basic medical insurance, has a personal account
	InsutypeResident = "390" // urban-rural resident insurance, no personal account
)

// PayInfo is our extension of 1101: what a settlement of this person will
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

// 2201 outpatient registration.

type RegisterInput struct {
	Data RegisterData `json:"data"`
}

type RegisterData struct {
	PsnNo         string `json:"psn_no"`
	Insutype      string `json:"insutype"`
	Begntime      string `json:"begntime"`
	MdtrtCertType string `json:"mdtrt_cert_type"`
	MdtrtCertNo   string `json:"mdtrt_cert_no"`
	IptOtpNo      string `json:"ipt_otp_no"`
	AtddrNo       string `json:"atddr_no"`
	DrName        string `json:"dr_name"`
	DeptCode      string `json:"dept_code"`
	DeptName      string `json:"dept_name"`
}

type RegisterOutput struct {
	Data RegisterResult `json:"data"`
}

type RegisterResult struct {
	MdtrtID  string `json:"mdtrt_id"`
	PsnNo    string `json:"psn_no"`
	IptOtpNo string `json:"ipt_otp_no"`
}

// Item classes (chrgitm_lv).
const (
	ClassA = "01" // fully eligible
	ClassB = "02" // 10% self-paid first, rest eligible
	ClassC = "03" // fully self-paid
)

// 2204 fee detail upload.

type UploadFeesInput struct {
	Feedetail []FeeDetail `json:"feedetail"`
}

type FeeDetail struct {
	FeedetlSn        string `json:"feedetl_sn"`
	MdtrtID          string `json:"mdtrt_id"`
	PsnNo            string `json:"psn_no"`
	ChrgBchno        string `json:"chrg_bchno"`
	FeeOcurTime      string `json:"fee_ocur_time"`
	MedListCodg      string `json:"med_list_codg"`
	MedinsListCodg   string `json:"medins_list_codg"`
	DetItemFeeSumamt Amount `json:"det_item_fee_sumamt"`
	Cnt              int64  `json:"cnt"`
	Pric             Amount `json:"pric"`
	ChrgitmLv        string `json:"chrgitm_lv"`
}

type UploadFeesOutput struct {
	Result []FeeResult `json:"result"`
}

type FeeResult struct {
	FeedetlSn        string `json:"feedetl_sn"`
	DetItemFeeSumamt Amount `json:"det_item_fee_sumamt"`
	FulamtOwnpayAmt  Amount `json:"fulamt_ownpay_amt"`
	PreselfpayAmt    Amount `json:"preselfpay_amt"`
	InscpScpAmt      Amount `json:"inscp_scp_amt"`
	ChrgitmLv        string `json:"chrgitm_lv"`
}

// 2206 pre-settlement.

type PreSettleInput struct {
	Data SettleQuery `json:"data"`
}

// SettleQuery is the input common to 2206 and 2207.
type SettleQuery struct {
	PsnNo         string `json:"psn_no"`
	MdtrtCertType string `json:"mdtrt_cert_type"`
	MdtrtCertNo   string `json:"mdtrt_cert_no"`
	MedType       string `json:"med_type"` // "11" general outpatient
	MedfeeSumamt  Amount `json:"medfee_sumamt"`
	PsnSetlway    string `json:"psn_setlway"` // "01" by item
	MdtrtID       string `json:"mdtrt_id"`
	ChrgBchno     string `json:"chrg_bchno"`
	Insutype      string `json:"insutype"`
	AcctUsedFlag  string `json:"acct_used_flag"` // "1" the personal account may be used
}

type PreSettleOutput struct {
	Setlinfo SetlInfo  `json:"setlinfo"`
	Payplan  PayResult `json:"payplan"` // extension: what 2207 would do now
}

// SetlInfo is the split of a settlement. Every answer that carries one must
// balance: medfee_sumamt = fund_pay_sumamt + acct_pay + psn_cash_pay.
type SetlInfo struct {
	SetlID          string `json:"setl_id,omitempty"`
	MdtrtID         string `json:"mdtrt_id,omitempty"`
	PsnNo           string `json:"psn_no,omitempty"`
	MedfeeSumamt    Amount `json:"medfee_sumamt"`
	FulamtOwnpayAmt Amount `json:"fulamt_ownpay_amt"`
	PreselfpayAmt   Amount `json:"preselfpay_amt"`
	InscpScpAmt     Amount `json:"inscp_scp_amt"`
	FundPaySumamt   Amount `json:"fund_pay_sumamt"`
	HifpPay         Amount `json:"hifp_pay"`
	AcctPay         Amount `json:"acct_pay"`
	PsnCashPay      Amount `json:"psn_cash_pay"`
	Balc            Amount `json:"balc"`
	MedinsSetlID    string `json:"medins_setl_id,omitempty"`
	SetlTime        string `json:"setl_time,omitempty"`
}

// Balanced reports whether the split adds up to the fen.
func (s SetlInfo) Balanced() bool {
	return s.MedfeeSumamt.Fen() == s.FundPaySumamt.Fen()+s.AcctPay.Fen()+s.PsnCashPay.Fen()
}

// 2207 settlement.

type SettleInput struct {
	Data SettleData `json:"data"`
}

type SettleData struct {
	SettleQuery
	Invono          string `json:"invono"`
	FulamtOwnpayAmt Amount `json:"fulamt_ownpay_amt"`
	PreselfpayAmt   Amount `json:"preselfpay_amt"`
	InscpScpAmt     Amount `json:"inscp_scp_amt"`
}

type SettleOutput struct {
	Setlinfo  SetlInfo  `json:"setlinfo"`
	Payresult PayResult `json:"payresult"`
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

// 2208 settlement cancel.

type CancelInput struct {
	Data CancelData `json:"data"`
}

type CancelData struct {
	SetlID  string `json:"setl_id"`
	MdtrtID string `json:"mdtrt_id"`
	PsnNo   string `json:"psn_no"`
}

type CancelOutput struct {
	Setlinfo  SetlInfo  `json:"setlinfo"`
	Payresult PayResult `json:"payresult"`
}

// 2601 reversal.

type ReverseInput struct {
	Data ReverseData `json:"data"`
}

type ReverseData struct {
	PsnNo  string `json:"psn_no"`
	Omsgid string `json:"omsgid"`
	Oinfno string `json:"oinfno"`
}

type ReverseOutput struct {
	Data ReverseResult `json:"data"`
}

type ReverseResult struct {
	Omsgid   string `json:"omsgid"`
	Reversed bool   `json:"reversed"`
}

// 3201 reconciliation totals.

type ReconcileInput struct {
	Data ReconcileData `json:"data"`
}

type ReconcileData struct {
	// DevNo (extension) limits the comparison to the settlements this
	// terminal sent: a terminal's journal knows only its own, and the
	// institution's totals are the sum over its terminals.
	DevNo            string `json:"dev_no,omitempty"`
	Insutype         string `json:"insutype"`
	ClrType          string `json:"clr_type"`
	StmtBegndate     string `json:"stmt_begndate"`
	StmtEnddate      string `json:"stmt_enddate"`
	MedfeeSumamt     Amount `json:"medfee_sumamt"`
	FundPaySumamt    Amount `json:"fund_pay_sumamt"`
	AcctPay          Amount `json:"acct_pay"`
	FixmedinsSetlCnt int64  `json:"fixmedins_setl_cnt"`
}

type ReconcileOutput struct {
	Data ReconcileResult `json:"data"`
}

// Reconciliation results.
const (
	StmtBalanced   = "0"
	StmtUnbalanced = "1"
)

type ReconcileResult struct {
	StmtRslt     string `json:"stmt_rslt"`
	StmtRsltDscr string `json:"stmt_rslt_dscr"`
}

// 3202 reconciliation detail (extension: the detail travels inline).

type ReconcileDetailInput struct {
	Data   ReconcileDetailQuery `json:"data"`
	Detail []ReconcileItem      `json:"detail"`
}

type ReconcileDetailQuery struct {
	DevNo        string `json:"dev_no,omitempty"`
	Insutype     string `json:"insutype"`
	StmtBegndate string `json:"stmt_begndate"`
	StmtEnddate  string `json:"stmt_enddate"`
}

// ReconcileItem is one settlement as one side has it. Msgid is the 2207
// msgid (medins_setl_id).
type ReconcileItem struct {
	Msgid         string `json:"msgid"`
	SetlID        string `json:"setl_id"`
	MedfeeSumamt  Amount `json:"medfee_sumamt"`
	FundPaySumamt Amount `json:"fund_pay_sumamt"`
	AcctPay       Amount `json:"acct_pay"`
	PsnCashPay    Amount `json:"psn_cash_pay"`
}

type ReconcileDetailOutput struct {
	Diffs []ReconcileDiff `json:"diffs"`
}

// Difference kinds.
const (
	DiffMissingLocal    = "missing_local"    // the platform has it, the terminal did not list it
	DiffMissingPlatform = "missing_platform" // the terminal listed it, the platform has no active settlement
	DiffAmountMismatch  = "amount_mismatch"
)

type ReconcileDiff struct {
	Kind     string         `json:"kind"`
	Msgid    string         `json:"msgid"`
	SetlID   string         `json:"setl_id"`
	Platform *ReconcileItem `json:"platform,omitempty"`
	Local    *ReconcileItem `json:"local,omitempty"`
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
