package agent

import (
	"context"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// Insurance is the medical-insurance platform, reached through the national
// interface (a provincial gateway, or the hospital's own front-end machine).
// It books the insured part of a bill: the funds' share and the personal
// account. It never takes the patient's own part: that is the payment
// channel's (PaymentChannel), another counterparty with its own ledger.
//
// Every call names, in its Exchange, the msgid the journal allocated before
// the call was first made; the adapter sends it unchanged on every resend,
// and the platform answers a repeated msgid with its first answer. Errors
// of every method:
//   - *Refusal: the platform answered with a failure;
//   - ErrUnreachable: the request certainly never reached the platform;
//   - ErrInDoubt: it may have, and no answer came: the outcome is unknown;
//   - ErrUnbalanced or a malformed-answer error: an answer the agent will
//     not take as a receipt.
type Insurance interface {
	// Identify asks who the patient is and how they are insured (1101).
	Identify(ctx context.Context, r IdentifyRequest) (Person, error)
	// Register opens the outpatient visit (2201).
	Register(ctx context.Context, r RegisterRequest) (Visit, error)
	// UploadFees sends the bill's lines (2204). The answer gives each line
	// as the platform's catalogue classes it, one per line sent, in order.
	UploadFees(ctx context.Context, r FeesRequest) ([]LineResult, error)
	// PreSettle computes how the bill would be split, booking nothing
	// (2206).
	PreSettle(ctx context.Context, r SplitRequest) (InsuranceSplit, error)
	// Settle books the insured part (2207).
	Settle(ctx context.Context, r SplitRequest) (Booking, error)
	// Cancel undoes a booked settlement: the refund of its insured part
	// (2208). The booking returned is the cancellation's own.
	Cancel(ctx context.Context, r CancelRequest) (Booking, error)
	// Reverse undoes a request that got no answer, named by its msgid
	// (2601). Found reports whether the platform had processed it; both
	// outcomes resolve the doubt, and a platform that never had it refuses
	// the original should it arrive late.
	Reverse(ctx context.Context, r ReverseRequest) (Reversal, error)
	// ReconcileTotals compares a period's totals for one insurance type
	// (3201).
	ReconcileTotals(ctx context.Context, r TotalsRequest) (TotalsResult, error)
	// ReconcileDetail sends the period's settlements one by one and returns
	// the platform's verdict on each (9101 upload, 3202, 9102 download).
	ReconcileDetail(ctx context.Context, r DetailRequest) ([]DetailResult, error)
	// Policy is what the platform publishes of its rules, for the
	// estimates of deferred bills.
	Policy(ctx context.Context, x Exchange) (Policy, error)
	// TrustList is the signed list of issuer keys and revoked credentials
	// for our signed QR codes, newer than since; its signature is checked
	// by whoever applies it.
	TrustList(ctx context.Context, x Exchange, since uint64) ([]byte, error)
}

// Exchange is what every call to the insurance platform carries besides
// its own fields.
type Exchange struct {
	// Msgid is the request's durable id, allocated in the journal before
	// the first send.
	Msgid    string
	Operator Operator
	// Region is the insured person's region (insuplc_admdvs) once
	// Identify has told it, empty before.
	Region string
}

// Certificate types (mdtrt_cert_type): how the patient was identified.
const (
	CertEVoucher = "01" // the national e-voucher's token (or our signed QR code)
	CertIDNo     = "02" // the resident ID number, typed by staff
	CertSSCard   = "03" // the social-security card
)

// IdentifyRequest identifies a patient (1101).
type IdentifyRequest struct {
	Exchange
	CertType string
	// CertNo is the e-voucher token, the ID number or the card number.
	CertNo string
	CardSN string // the card's identifier, for a card
	// IDNo and Name are what the card or the e-voucher component said,
	// when they said it.
	IDNo, Name string
	At         time.Time // when the visit began (begntime)
}

// Person is who the platform says the patient is.
type Person struct {
	PsnNo  string
	IDNo   string
	Name   string
	Gender string
	Birth  string // yyyy-MM-dd
	// AgeTenths is the age in tenths of a year (36.8 is 368), as the
	// platform gives it.
	AgeTenths  int
	Insurances []Insured
}

// Insured is one insurance the person holds.
type Insured struct {
	Type       string // insutype: 310 employees, 390 residents, ...
	Active     bool   // psn_insu_stas 1; 4 is suspended
	Balance    money.Fen
	Region     string // insuplc_admdvs
	PersonType string
	Employer   string
}

// Active returns the first active insurance, or the first listed if none
// is active.
func (p Person) Active() (Insured, bool) {
	for _, in := range p.Insurances {
		if in.Active {
			return in, true
		}
	}
	if len(p.Insurances) > 0 {
		return p.Insurances[0], true
	}
	return Insured{}, false
}

// RegisterRequest opens an outpatient visit (2201).
type RegisterRequest struct {
	Exchange
	PsnNo, Insutype          string
	CertType, CertNo, CardSN string
	VisitNo                  string // the HIS's outpatient number (ipt_otp_no)
	DoctorID, DoctorName     string
	DeptCode, DeptName       string
	DeptCategory             string // caty
	At                       time.Time
}

// Visit is a registered visit.
type Visit struct {
	MdtrtID string
}

// FeesRequest uploads a bill's lines (2204).
type FeesRequest struct {
	Exchange
	PsnNo, MdtrtID       string
	Batch                string // chrg_bchno: the lines settled together
	At                   time.Time
	DeptCode, DeptName   string // the billing department
	DoctorID, DoctorName string // the billing doctor
	Lines                []FeeLine
}

// FeeLine is one bill line as the platform receives it.
type FeeLine struct {
	Seq      string // feedetl_sn, unique within the visit
	Code     string // med_list_codg
	HospCode string // medins_list_codg
	Quantity money.Quantity
	Price    money.Price
	Amount   money.Fen
	// Prescription bought outside (rx_circ_flag) and the hospital's
	// approval of a limited item (hosp_appr_flag: 0, 1 or 2).
	OutsidePrescription bool
	HospApproval        string
}

// LineResult is the platform's reading of one line.
type LineResult struct {
	Seq          string
	Class        string // chrgitm_lv: 01 class A, 02 class B, 03 class C
	SelfPayRatio int    // selfpay_prop in ten-thousandths
	Ownpay       money.Fen
	Overlimit    money.Fen
	Preselfpay   money.Fen
	Eligible     money.Fen
	Note         string
}

// SplitRequest pre-settles or settles a visit (2206, 2207).
type SplitRequest struct {
	Exchange
	PsnNo, Insutype, MdtrtID, Batch string
	CertType, CertNo, CardSN        string
	Total                           money.Fen
	// UseAccount: the personal account pays what it can (acct_used_flag).
	UseAccount bool
	// Pre is the pre-settlement, whose amounts a settlement repeats
	// (fulamt_ownpay_amt, overlmt_selfpay, preselfpay_amt,
	// inscp_scp_amt); zero for a pre-settlement.
	Pre       InsuranceSplit
	InvoiceNo string
}

// Fund kinds of a split's fund part.
const (
	FundPooled         = "pooled"          // hifp_pay, the pooled fund (统筹)
	FundCivilServant   = "civil_servant"   // cvlserv_pay
	FundEnterprise     = "enterprise"      // hifes_pay, enterprise supplement
	FundSeriousIllness = "serious_illness" // hifmi_pay
	FundLargeAmount    = "large_amount"    // hifob_pay
	FundAssistance     = "assistance"      // maf_pay, medical assistance
	FundOther          = "other"           // oth_pay
)

// FundPart is one fund's share of a split.
type FundPart struct {
	Kind   string    `json:"kind"`
	Amount money.Fen `json:"amount_fen"`
}

// InsuranceSplit is how the platform splits a bill (setlinfo). It
// balances as real platforms balance:
// Total = Fund + Account + Cash + Hospital.
type InsuranceSplit struct {
	Total money.Fen `json:"total_fen"` // medfee_sumamt
	Fund  money.Fen `json:"fund_fen"`  // fund_pay_sumamt
	// Funds is the fund part by fund, the non-zero ones only.
	Funds   []FundPart `json:"funds,omitempty"`
	Account money.Fen  `json:"account_fen"` // acct_pay, personal account
	// MutualAid is the part of Account paid from a family member's account
	// (acct_mulaid_pay).
	MutualAid money.Fen `json:"mutual_aid_fen,omitempty"`
	// Cash is what the patient pays (psn_cash_pay): the payment channel's
	// part.
	Cash     money.Fen `json:"cash_fen"`
	Hospital money.Fen `json:"hospital_fen,omitempty"` // hosp_part_amt
	// The item-class breakdown: fully self-paid, over the price limit,
	// self-paid first, in scope, and the deductible met.
	Ownpay     money.Fen `json:"ownpay_fen"`
	Overlimit  money.Fen `json:"overlimit_fen"`
	Preselfpay money.Fen `json:"preselfpay_fen"`
	Eligible   money.Fen `json:"eligible_fen"`
	Deductible money.Fen `json:"deductible_fen,omitempty"`
	// Balance is the personal account's balance after.
	Balance money.Fen `json:"balance_fen"`
	// Estimate is set by the agent, never by the platform: a split it
	// computed itself for a deferred bill, from the published policy.
	Estimate bool `json:"estimate,omitempty"`
}

// Balanced reports whether the split adds up to the fen.
func (s InsuranceSplit) Balanced() bool {
	return s.Total == s.Fund+s.Account+s.Cash+s.Hospital
}

// Booking is a settlement or cancellation the platform booked.
type Booking struct {
	SetlID  string
	SetlDay string // the platform's settlement time, yyyy-MM-dd HH:mm:ss
	Split   InsuranceSplit
	// Clearing: the region, way and type the platform clears it under.
	ClearingRegion, ClearingWay, ClearingType string
}

// CancelRequest cancels a booked settlement (2208).
type CancelRequest struct {
	Exchange
	SetlID, MdtrtID, PsnNo string
}

// What a reversal undoes.
const (
	ReverseSettle = "settle" // a settlement (2207)
	ReverseCancel = "cancel" // a cancellation (2208)
)

// ReverseRequest reverses an unanswered request (2601).
type ReverseRequest struct {
	Exchange
	PsnNo string
	// Of is the msgid of the request to undo, and What its kind.
	Of, What string
}

// Reversal is a reversal's outcome.
type Reversal struct {
	// Found: the platform had processed the request and has undone it.
	// Not found: it never had it, and now refuses it for good.
	Found bool
}

// TotalsRequest compares a period's totals (3201).
type TotalsRequest struct {
	Exchange
	Insutype, ClearingType, ClearingRegion string
	From, To                               time.Time
	Total, Fund, Account                   money.Fen
	Count                                  int
	WithRefunds                            bool
}

// Totals results (stmt_rslt).
const (
	TotalsBalanced        = "0"
	TotalsPlatformMore    = "1"
	TotalsInstitutionMore = "2"
	TotalsMismatch        = "3"
)

// TotalsResult is the platform's verdict on a period's totals.
type TotalsResult struct {
	Result      string
	Description string
}

// Balanced reports whether the totals agree.
func (r TotalsResult) Balanced() bool { return r.Result == TotalsBalanced }

// DetailRequest sends a period's settlements for a line-by-line
// comparison: uploaded as a file (9101), compared (3202), the result file
// downloaded (9102), each under its own msgid.
type DetailRequest struct {
	Upload, Compare, Download Exchange
	ClearingType              string
	ClearingRegion            string
	From, To                  time.Time
	Total, Fund, Cash         money.Fen
	Count                     int
	Lines                     []DetailLine
}

// DetailLine is one settlement (or cancellation) as the terminal has it.
type DetailLine struct {
	SetlID, MdtrtID, PsnNo string
	Total, Fund, Account   money.Fen
	Refund                 bool
}

// DetailResult is the platform's verdict on one settlement.
type DetailResult struct {
	PsnNo, MdtrtID, SetlID, Msgid string
	Result                        string // as TotalsResult.Result
	Refund                        bool
	Memo                          string
	Total, Fund, Account          money.Fen
}

// Refusal is a failure the insurance platform answered. Kind classifies
// it (from the answer's code where the platform gives one, else from its
// message, by the configured patterns): it decides whether the request
// was processed, and what the agent does next.
type Refusal struct {
	Op      string // the transaction, for messages: 1101, 2207, ...
	Kind    string
	Message string // the platform's own words (err_msg), trace id removed
	TraceID string
}

// Refusal kinds.
const (
	// RefusedProcessed: the platform processed the request and said no
	// (not insured, a rule, a duplicate bill). Nothing was booked.
	RefusedProcessed = "refused"
	// RefusedSignIn: the session expired or is unknown: sign in and send
	// again.
	RefusedSignIn = "sign_in"
	// RefusedAtDoor: refused before it was processed (signature, clock,
	// a gateway's own answer): sending it again may succeed.
	RefusedAtDoor = "door"
	// RefusedNotFound: what the request names does not exist (a reversal
	// of a msgid never seen, a cancel of an unknown settlement).
	RefusedNotFound = "not_found"
	// RefusedDuplicate: the platform already has it (a cancel already
	// done, a msgid reused with another request).
	RefusedDuplicate = "duplicate"
)

func (e *Refusal) Error() string {
	return e.Op + " refused (" + e.Kind + "): " + e.Message
}

// Processed reports whether the platform processed the request (as opposed
// to refusing it at the door, which proves nothing about an earlier
// attempt).
func (e *Refusal) Processed() bool {
	switch e.Kind {
	case RefusedProcessed, RefusedNotFound, RefusedDuplicate:
		return true
	}
	return false
}

// Policy is what the platform publishes of its outpatient rules: enough
// to estimate the split of a deferred bill, marked as an estimate.
type Policy struct {
	Version          string            `json:"version"`
	Insurance        []InsurancePolicy `json:"insurance"`
	ClassBSelfPayPct int64             `json:"class_b_selfpay_pct"`
}

// InsurancePolicy is one insurance type's rules.
type InsurancePolicy struct {
	Insutype   string    `json:"insutype"`
	Deductible money.Fen `json:"deductible_fen"`
	RatioPct   int64     `json:"ratio_pct"`
	YearCap    money.Fen `json:"year_cap_fen"`
}

// EVoucher is the national e-voucher component (医保电子凭证): in practice
// a vendor library on the terminal. A scanned national code is not sent to
// the platform as it is: the component resolves it into the holder and a
// token, and the token identifies the patient in 1101.
type EVoucher interface {
	Query(ctx context.Context, q EVoucherQuery) (EVoucherHolder, error)
}

// E-voucher business types (businessType): what the code is used for.
const (
	EVoucherRegister = "01101" // outpatient registration
	EVoucherSettle   = "01301" // outpatient settlement
)

// EVoucherQuery resolves a scanned code (ec.query).
type EVoucherQuery struct {
	Code                     string
	BusinessType             string
	OperatorID, OperatorName string
	DeptID, DeptName         string
	Kiosk                    bool // deviceType SelfService
}

// EVoucherHolder is who the code belongs to.
type EVoucherHolder struct {
	Token  string // ecToken, the mdtrt_cert_no of 1101
	IDNo   string
	IDType string
	Name   string
	Region string // insuOrg
}
