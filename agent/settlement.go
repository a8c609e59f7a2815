// Package agent is the core of the terminal agent: who the patient is, what
// the bill says, where each settlement stands, and the workflow that moves
// it from accepted to settled (or deferred, pending, refunded). It owns the
// interfaces of everything it needs from outside (journal, platform, card
// reader, scanner, clock) and depends on no adapter.
package agent

import (
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// State is where a settlement stands. Each change is one durable journal
// update.
type State string

const (
	// StateAccepted: stored with its msgids, nothing answered yet.
	StateAccepted State = "accepted"
	// StateSettling: identified, registered, fees uploaded and pre-settled;
	// the settlement request (2207) may have been sent.
	StateSettling State = "settling"
	// StateSettled: booked by the platform. Payment tells what happened to
	// the self-pay part (paid, pending, confirm_required).
	StateSettled State = "settled"
	// StateDeclined: the platform refused the bill; nothing was booked.
	StateDeclined State = "declined"
	// StateFailed: the platform could not be reached before anything that
	// moves money was sent; nothing was booked. Submitting the same
	// idempotency key again resumes it.
	StateFailed State = "failed"
	// StateInDoubt: the settlement request was sent and no answer came.
	// It is resent under the same msgid until answered (or reversed), and a
	// new settlement of the bill is refused meanwhile.
	StateInDoubt State = "in_doubt"
	// StateRefunding and StateRefunded: a cancel (2208) is under way or
	// done.
	StateRefunding State = "refunding"
	StateRefunded  State = "refunded"
	// StateDeferred: accepted while the platform was unreachable, within
	// the hospital's offline limits, with a provisional receipt; the
	// forwarder settles it when the platform is back.
	StateDeferred State = "deferred"
	// StateArrears: a deferred bill the platform declined once it was
	// forwarded. The patient was treated; the hospital must collect.
	StateArrears State = "arrears"
	// StateVoided: a deferred bill cancelled before it was ever sent.
	StateVoided State = "voided"
	// StateReversing: an in-doubt settlement given up after its resend
	// window; a reversal (2601) naming its msgid is under way. Only when
	// the reversal is answered may the bill be settled again.
	StateReversing State = "reversing"
)

// Offline modes, chosen per request.
const (
	// ModePreferOnline settles online, and defers the bill within the
	// offline limits when the platform cannot be reached quickly.
	ModePreferOnline = "prefer_online"
	// ModeRequireOnline settles online or not at all.
	ModeRequireOnline = "require_online"
	// ModeForceOffline defers without trying the platform (drills, tests).
	ModeForceOffline = "force_offline"
)

// Terminal reports whether nothing more will happen to a settlement
// without an operator's action (a refund).
func (s State) Terminal() bool {
	switch s {
	case StateSettled, StateDeclined, StateRefunded, StateArrears, StateVoided:
		return true
	}
	return false
}

// Resumable reports whether driving the workflow again may move the
// settlement forward.
func (s State) Resumable() bool {
	switch s {
	case StateAccepted, StateSettling, StateFailed, StateInDoubt, StateReversing:
		return true
	}
	return false
}

// Settlement is one bill's settlement as the journal keeps it.
type Settlement struct {
	ID             string    `json:"id"`
	IdempotencyKey string    `json:"idempotency_key"`
	Fingerprint    string    `json:"fingerprint"` // of the request, to refuse a reused key with another bill
	State          State     `json:"state"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`

	CertType string   `json:"cert_type"` // mdtrt_cert_type: 01 QR, 02 ID number, 03 card
	Operator Operator `json:"operator"`
	Bill     Bill     `json:"bill"`
	Mode     string   `json:"mode"`
	// PatientRef is a keyed pseudonym of the patient (journal.Pseudonym),
	// so deferred bills are counted and forwarded per patient without
	// naming anyone.
	PatientRef string `json:"patient_ref,omitempty"`
	// Offline is how the identity was established without the platform
	// (card, qr_signed, id_number, qr_opaque): what the offline limits
	// trust.
	Offline string `json:"offline,omitempty"`

	// Personal is encrypted at rest by the journal and never logged.
	Personal Personal `json:"-"`

	// Platform facts, filled in as the workflow goes.
	Insutype      string            `json:"insutype,omitempty"`
	InsuplcAdmdvs string            `json:"insuplc_admdvs,omitempty"`
	MdtrtID       string            `json:"mdtrt_id,omitempty"`
	Msgids        map[string]string `json:"msgids"` // infno -> msgid, allocated before the first send
	Split         Split             `json:"split"`
	Payment       Payment           `json:"payment"`
	SetlID        string            `json:"setl_id,omitempty"`
	SettledAt     time.Time         `json:"settled_at,omitzero"`
	// SetlTime is the platform's settlement time (setl_time): the day a
	// reconciliation counts the settlement in.
	SetlTime string `json:"setl_time,omitempty"`

	// Deferral and forwarding.
	DeferredAt time.Time `json:"deferred_at,omitzero"` // set once: the bill was deferred
	Attempt    int       `json:"attempt,omitempty"`    // 2207 attempts reversed so far
	// PriorMsgids are 2207 msgids reversed after an unanswered attempt:
	// reconciliation and the platform may still mention them.
	PriorMsgids  []string  `json:"prior_msgids,omitempty"`
	InDoubtSince time.Time `json:"in_doubt_since,omitzero"`
	Tries        int       `json:"tries,omitempty"` // forwarding attempts that failed
	NextTry      time.Time `json:"next_try,omitzero"`

	Refund *Refund  `json:"refund,omitempty"`
	Error  *Failure `json:"error,omitempty"`
	Events []Event  `json:"events"`
}

// Personal holds everything that identifies the patient. The journal
// stores it sealed; output masks it unless the operator asks.
type Personal struct {
	CertNo     string `json:"cert_no,omitempty"` // ID number, card number or QR code text
	IDNo       string `json:"id_no,omitempty"`   // resident ID number, from 1101 or the card
	Name       string `json:"name,omitempty"`
	CardSN     string `json:"card_sn,omitempty"` // social-security card identifier
	PsnNo      string `json:"psn_no,omitempty"`
	PayerPsnNo string `json:"payer_psn_no,omitempty"` // family pay: the signer
}

// Operator is who asked for the settlement: a doctor, a cashier or a kiosk.
type Operator struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Type string `json:"type"` // opter_type: 1 clerk, 2 kiosk, 3 mobile
}

// Bill is what the HIS sends: the visit and its fee items.
type Bill struct {
	VisitNo    string    `json:"visit_no"` // ipt_otp_no, the HIS's outpatient number
	DeptCode   string    `json:"dept_code"`
	DeptName   string    `json:"dept_name"`
	DoctorID   string    `json:"doctor_id"`
	DoctorName string    `json:"doctor_name"`
	Items      []FeeItem `json:"items"`
}

// FeeItem is one line of a bill. Amounts are fen.
type FeeItem struct {
	Code      string    `json:"code"`      // med_list_codg, the national catalogue code
	HospCode  string    `json:"hosp_code"` // medins_list_codg, the hospital's own code
	Name      string    `json:"name"`
	Class     string    `json:"class"` // chrgitm_lv: 01 A, 02 B, 03 C
	Quantity  int64     `json:"quantity"`
	UnitPrice money.Fen `json:"unit_price_fen"`
	Amount    money.Fen `json:"amount_fen"`
}

// Total is the bill's sum in fen.
func (b Bill) Total() money.Fen {
	var t money.Fen
	for _, it := range b.Items {
		t += it.Amount
	}
	return t
}

// Split is how a settlement's total is paid. It always balances:
// Total = Fund + Account + SelfPay. Account and SelfPay together are what
// the patient (or the family signer) pays.
type Split struct {
	Total   money.Fen `json:"total_fen"`
	Fund    money.Fen `json:"fund_fen"`    // pooled fund (统筹)
	Account money.Fen `json:"account_fen"` // personal insurance account (个账)
	SelfPay money.Fen `json:"self_pay_fen"`
	// Ownpay, Preselfpay and Eligible are the item-class breakdown the
	// platform reports: fully self-paid, self-paid first, and in scope.
	Ownpay     money.Fen `json:"ownpay_fen"`
	Preselfpay money.Fen `json:"preselfpay_fen"`
	Eligible   money.Fen `json:"eligible_fen"`
	// Balance is the personal account's balance after the settlement.
	Balance money.Fen `json:"balance_fen"`
	// Estimate marks a split the agent computed itself (offline) rather than
	// one the platform answered.
	Estimate bool `json:"estimate,omitempty"`
}

// Balanced reports whether the split adds up to the fen.
func (s Split) Balanced() bool { return s.Total == s.Fund+s.Account+s.SelfPay }

// Payment statuses of the self-pay part.
const (
	PayPaid            = "paid"
	PayPending         = "pending"
	PayConfirmRequired = "confirm_required"
	PayRefunded        = "refunded"
)

// Payment is what happened to the part the patient pays.
type Payment struct {
	Status string `json:"status,omitempty"`
	Source string `json:"source,omitempty"` // personal_account, bank_card, credit_line
	// FamilyPay is true when a family signer paid; the signer's psn_no is
	// in Personal.
	FamilyPay bool   `json:"family_pay,omitempty"`
	AuthNo    string `json:"auth_no,omitempty"`
	Reason    string `json:"reason,omitempty"` // why pending: NO_AGREEMENT, LIMIT_PER_TXN, ...
}

// Refund is the cancellation of a settled bill.
type Refund struct {
	State     State     `json:"state"` // refunding, refunded, failed, in_doubt
	Operator  Operator  `json:"operator"`
	Reason    string    `json:"reason,omitempty"`
	SetlID    string    `json:"setl_id,omitempty"` // the platform's id of the cancel
	Split     Split     `json:"split"`             // negative amounts, as returned
	At        time.Time `json:"at"`
	Error     *Failure  `json:"error,omitempty"`
	Requested time.Time `json:"requested_at"`
}

// Failure is why a settlement did not go through, in terms that an operator
// can act on. Code is stable (the platform's err_code, or one of ours).
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Event is one entry of a settlement's history.
type Event struct {
	At    time.Time `json:"at"`
	State State     `json:"state"`
	Note  string    `json:"note,omitempty"`
}

// transition moves s to state and records it.
func (s *Settlement) transition(at time.Time, state State, note string) {
	s.State = state
	s.UpdatedAt = at
	s.Events = append(s.Events, Event{At: at, State: state, Note: note})
}
