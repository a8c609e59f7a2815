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
	// StatePaying: the insurance platform booked the insured part; the
	// patient's own part is being taken through the payment channel (an
	// order may be out whose outcome is not known yet).
	StatePaying State = "paying"
	// StateSettled: booked by the platform, and the patient's own part
	// dealt with: Pay tells whether it was taken, is pending (with its
	// reason) or was collected at the window.
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
	// StateRefunding and StateRefunded: a refund is under way or done:
	// the insured part cancelled with the platform (2208) and what the
	// payment channel took returned to where it came from.
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
	case StateAccepted, StateSettling, StateFailed, StateInDoubt, StateReversing, StatePaying:
		return true
	}
	return false
}

// Settlement is one bill's settlement as the journal keeps it.
type Settlement struct {
	ID             string `json:"id"`
	IdempotencyKey string `json:"idempotency_key"`
	Fingerprint    string `json:"fingerprint"` // of the request, to refuse a reused key with another bill
	// EarlierFingerprints are the request's fingerprint as earlier versions
	// of the agent computed it, never stored: a bill accepted before an
	// upgrade, submitted again after it, is still the same bill.
	EarlierFingerprints []string  `json:"-"`
	State               State     `json:"state"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`

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

	// The insurance leg, filled in as the workflow goes.
	Insutype      string `json:"insutype,omitempty"`
	InsuplcAdmdvs string `json:"insuplc_admdvs,omitempty"`
	MdtrtID       string `json:"mdtrt_id,omitempty"`
	// Msgids of the insurance leg's requests, by step (StepIdentify, ...),
	// allocated in the journal before the first send.
	Msgids map[string]string `json:"msgids"`
	// Lines are the bill's lines as the platform's catalogue read them.
	Lines     []LineResult   `json:"lines,omitempty"`
	Split     InsuranceSplit `json:"split"`
	SetlID    string         `json:"setl_id,omitempty"`
	SettledAt time.Time      `json:"settled_at,omitzero"`
	// SetlTime is the platform's settlement time (setl_time): the day a
	// reconciliation counts the settlement in.
	SetlTime string `json:"setl_time,omitempty"`
	// Clearing is what the platform clears the settlement under, for
	// reconciliation.
	Clearing Clearing `json:"clearing,omitzero"`

	// Pay is the payment leg: the patient's own part (Split.Cash) and
	// what became of it.
	Pay PaymentLeg `json:"pay"`

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
	CertNo string `json:"cert_no,omitempty"` // ID number, card number or QR code text
	IDNo   string `json:"id_no,omitempty"`   // resident ID number, from 1101 or the card
	Name   string `json:"name,omitempty"`
	CardSN string `json:"card_sn,omitempty"` // social-security card identifier
	PsnNo  string `json:"psn_no,omitempty"`
	// AccountNo is the social-security card's own financial account, read
	// at the desk: a source the payment leg may debit.
	AccountNo string `json:"account_no,omitempty"`
	// Token is the e-voucher component's token for the patient's code,
	// what 1101 identifies a national e-voucher by.
	Token string `json:"token,omitempty"`
}

// Operator is who asked for the settlement: a doctor, a cashier or a kiosk.
type Operator struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Type string `json:"type"` // opter_type: 1 clerk, 2 kiosk, 3 mobile
}

// Bill is what the HIS sends: the visit and its fee items.
type Bill struct {
	VisitNo    string `json:"visit_no"` // ipt_otp_no, the HIS's outpatient number
	DeptCode   string `json:"dept_code"`
	DeptName   string `json:"dept_name"`
	DoctorID   string `json:"doctor_id"`
	DoctorName string `json:"doctor_name"`
	// DeptCategory is the department's national category (caty); the
	// department code stands for it when the HIS gives none.
	DeptCategory string    `json:"dept_category,omitempty"`
	Items        []FeeItem `json:"items"`
}

// FeeItem is one line of a bill, measured as the national interface
// measures it: a quantity with four decimals (half a box is 0.5), a unit
// price in yuan with six, and the line's amount in fen, which must be
// quantity × price rounded half up.
type FeeItem struct {
	Code     string         `json:"code"`      // med_list_codg, the national catalogue code
	HospCode string         `json:"hosp_code"` // medins_list_codg, the hospital's own code
	Name     string         `json:"name"`
	Quantity money.Quantity `json:"quantity"`
	// UnitPrice is in yuan, to six decimals. A HIS may give it in whole fen
	// instead (UnitPriceFen), as the agent's first API did; exactly one of
	// the two is given, and the agent keeps UnitPrice.
	UnitPrice    money.Price `json:"unit_price,omitzero"`
	UnitPriceFen money.Fen   `json:"unit_price_fen,omitempty"`
	Amount       money.Fen   `json:"amount_fen"`
	// Class is the item class the HIS believes (01 A, 02 B, 03 C); only a
	// hint for an offline estimate: the platform's catalogue decides.
	Class string `json:"class,omitempty"`
	// OutsidePrescription and HospApproval are 2204's rx_circ_flag and
	// hosp_appr_flag (0 none, 1 approved, 2 not approved).
	OutsidePrescription bool   `json:"outside_prescription,omitempty"`
	HospApproval        string `json:"hosp_approval,omitempty"`
}

// Total is the bill's sum in fen.
func (b Bill) Total() money.Fen {
	var t money.Fen
	for _, it := range b.Items {
		t += it.Amount
	}
	return t
}

// Clearing is what the platform clears a settlement under.
type Clearing struct {
	Region string `json:"region,omitempty"` // clr_optins
	Way    string `json:"way,omitempty"`    // clr_way
	Type   string `json:"type,omitempty"`   // clr_type
}

// Steps of the insurance leg, the keys of Settlement.Msgids.
const (
	StepIdentify  = "identify"  // 1101
	StepRegister  = "register"  // 2201
	StepUpload    = "upload"    // 2204
	StepPreSettle = "presettle" // 2206 with the personal account paying first (acct_used_flag 1)
	StepPreCredit = "precredit" // 2206 with the account left out: the whole part from the agreement's sources
	StepSettle    = "settle"    // 2207
	StepCancel    = "cancel"    // 2208
	StepReverse   = "reverse"   // 2601
	// StepPayOrder is the payment leg's: the id of the first order for
	// the patient's part (a later one, from another source, has its own).
	StepPayOrder = "payorder"
)

// Statuses of the payment leg.
const (
	// PayNone: nothing for the patient to pay (the funds and the account
	// covered it all).
	PayNone = "none"
	// PayDue: the patient's part is to be taken; nothing was sent yet, or
	// the channel could not be reached.
	PayDue = "due"
	// PayPaying: an order is out whose outcome is not known: it is queried
	// until the channel says.
	PayPaying = "paying"
	PayPaid   = "paid"
	// PayPending: not taken (Reason says why): the patient pays at the
	// kiosk or the window.
	PayPending = "pending"
	// PayConfirmRequired: a confirm-first family bill, or one over the
	// password-free limit: paid once the patient confirms at the kiosk.
	PayConfirmRequired = "confirm_required"
	// PayCollected: paid at the window or the kiosk by another channel
	// (cash, WeChat, Alipay), recorded with its reference.
	PayCollected = "collected"
	// PayReturning and PayReturned: a refund gives back what was taken.
	PayReturning = "returning"
	PayReturned  = "returned"
	// PayNotTaken: the bill was refunded and nothing had been taken.
	PayNotTaken = "not_taken"
	// PayReturnAtWindow: refunded; what was collected in cash (or by
	// another channel) is to be given back at the window.
	PayReturnAtWindow = "return_at_window"
)

// PaymentLeg is the patient's own part of a bill and what became of it.
type PaymentLeg struct {
	Status string    `json:"status,omitempty"`
	Amount money.Fen `json:"amount_fen"`
	// Reason is why the part is pending (Reason* of the payment port, or
	// one of ours), Message the channel's own words.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// The agreement it was taken under, the source (masked) and the
	// family link if a signer pays for the patient.
	AgreementID  string      `json:"agreement_id,omitempty"`
	AccountFirst bool        `json:"account_first,omitempty"`
	Source       *PaySource  `json:"source,omitempty"`
	Family       *FamilyLink `json:"family,omitempty"`
	// CreditWhole: the account could not cover the whole part, so the
	// bill was pre-settled without it and the credit line takes it all
	// (never a half payment).
	CreditWhole bool `json:"credit_whole,omitempty"`
	// Confirmed: the patient confirmed at the kiosk (a confirm-first
	// family bill, a part over the password-free limit).
	Confirmed bool `json:"confirmed,omitempty"`
	// Legacy: taken by the insurance platform's own payment extension, as
	// journals before the payment channel recorded it (schema v5's
	// migration); the platform's cancellation gave it back.
	Legacy bool `json:"legacy,omitempty"`
	// Orders are every order sent to the channel for this bill, in order.
	Orders    []PayOrderRecord `json:"orders,omitempty"`
	Collected *Collection      `json:"collected,omitempty"`
	PaidAt    time.Time        `json:"paid_at,omitzero"`

	// sources are the agreement's sources as last looked up, tokens and
	// all: kept in memory for the step that needs them, never stored.
	sources []PaySource
}

// Statuses of one order.
const (
	OrderAllocated = "allocated" // stored, about to be sent (or sent by a process that ended)
	OrderUnknown   = "unknown"   // sent, outcome not known: query it
	OrderSucceeded = "succeeded"
	OrderRefused   = "refused"
)

// Kinds of orders.
const (
	OrderPay    = "pay"
	OrderCancel = "cancel" // a payment undone on its clearing day
	OrderRefund = "refund" // a payment returned after it
)

// PayOrderRecord is one order sent to the payment channel.
type PayOrderRecord struct {
	Kind    string    `json:"kind"`
	OrderID string    `json:"order_id"`
	TxnTime time.Time `json:"txn_time"`
	Amount  money.Fen `json:"amount_fen"`
	Source  string    `json:"source,omitempty"` // the source's kind
	Status  string    `json:"status"`
	QueryID string    `json:"query_id,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	// Queries made of an unknown outcome, and when the next is due.
	Queries   int       `json:"queries,omitempty"`
	NextQuery time.Time `json:"next_query,omitzero"`
}

// Channels a part can be collected by at the window.
const (
	CollectCash   = "cash"
	CollectWeChat = "wechat"
	CollectAlipay = "alipay"
	CollectCard   = "card" // a bank card at the window's own POS
)

// Collection is a part paid by another channel.
type Collection struct {
	Channel   string    `json:"channel"`
	Reference string    `json:"reference,omitempty"`
	Amount    money.Fen `json:"amount_fen"`
	Operator  Operator  `json:"operator"`
	At        time.Time `json:"at"`
}

// Taken reports whether the payment leg took money that a refund must give
// back, and through which way: the channel (an order), or the window.
func (p PaymentLeg) Taken() (byChannel, atWindow bool) {
	switch p.Status {
	case PayPaid:
		return true, false
	case PayCollected:
		return false, true
	}
	return false, false
}

// lastOrder returns the last order of kind, or nil.
func (p *PaymentLeg) lastOrder(kind string) *PayOrderRecord {
	for i := len(p.Orders) - 1; i >= 0; i-- {
		if p.Orders[i].Kind == kind {
			return &p.Orders[i]
		}
	}
	return nil
}

// paidOrder returns the order that took the money, or nil.
func (p *PaymentLeg) paidOrder() *PayOrderRecord {
	for i := range p.Orders {
		if o := &p.Orders[i]; o.Kind == OrderPay && o.Status == OrderSucceeded {
			return o
		}
	}
	return nil
}

// DurableIDs are every id this settlement was given to send: the insurance
// leg's msgids, earlier attempts' msgids and the payment orders. The
// journal indexes them so that no id ever names two requests.
func (s *Settlement) DurableIDs() []string {
	out := make([]string, 0, len(s.Msgids)+len(s.PriorMsgids)+len(s.Pay.Orders))
	for _, m := range s.Msgids {
		out = append(out, m)
	}
	out = append(out, s.PriorMsgids...)
	for _, o := range s.Pay.Orders {
		out = append(out, o.OrderID)
	}
	return out
}

// Refund is the cancellation of a settled bill.
type Refund struct {
	State    State    `json:"state"` // refunding, refunded, declined, in_doubt
	Operator Operator `json:"operator"`
	Reason   string   `json:"reason,omitempty"`
	// Insured is done once the platform cancelled the insured part;
	// SetlID is the cancellation's own id and Split its amounts (negative,
	// as returned).
	Insured   bool           `json:"insured,omitempty"`
	SetlID    string         `json:"setl_id,omitempty"`
	Split     InsuranceSplit `json:"split"`
	At        time.Time      `json:"at"`
	Error     *Failure       `json:"error,omitempty"`
	Requested time.Time      `json:"requested_at"`
}

// Failure is why a settlement did not go through, in terms that an operator
// can act on. Code is stable (one of the agent's Fail* codes); Kind is the
// platform's refusal kind when it refused; Message its own words, or ours.
type Failure struct {
	Code    string `json:"code"`
	Kind    string `json:"kind,omitempty"`
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
