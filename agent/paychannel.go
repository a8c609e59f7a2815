package agent

import (
	"context"
	"errors"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// PaymentChannel takes the patient's own part of a bill (the insurance
// split's Cash) from the source the patient signed for, password-free:
// UnionPay or the signing bank. It is the second counterparty of every
// settlement, with its own ledger: the insurance platform never debits a
// bank card and knows nothing of agreements, password-free limits, credit
// lines or family links; all of those live here.
//
// A payment is identified by its order (OrderID and TxnTime), which the
// journal allocates before the first send and which every resend and
// every query repeats: the channel's idempotency key, as the msgid is the
// platform's. Errors of every method:
//   - ErrUnreachable: the request certainly never reached the channel;
//   - ErrInDoubt: it may have, and no answer came (query the order);
//   - ErrNoAgreement (Agreement): the patient has signed nothing;
//   - any other error: the channel answered something the agent will not
//     take (a bad signature, a malformed answer).
//
// A refusal the channel answered (a limit, the balance, a confirmation
// needed) is not an error: it is a PayOutcome with Status PayRefused.
type PaymentChannel interface {
	// Agreement looks up the patient's agreement. No public specification
	// has this call: it is the agent's own, named as such, which the
	// adapter maps to what the channel offers.
	Agreement(ctx context.Context, q AgreementQuery) (Agreement, error)
	// Sign binds a source for password-free payment (at the window the
	// cashier confirms; at the kiosk the patient does it alone).
	Sign(ctx context.Context, r SignRequest) (Agreement, error)
	// SetLimits lowers the patient's password-free limits.
	SetLimits(ctx context.Context, r LimitsRequest) (Agreement, error)
	// CancelAgreement ends the agreement.
	CancelAgreement(ctx context.Context, r AgreementRef) error
	// Pay debits the order's amount from one source, whole or not at all.
	Pay(ctx context.Context, o PayOrder) (PayOutcome, error)
	// Query asks what became of an order whose outcome is unknown.
	Query(ctx context.Context, o OrderRef) (PayOutcome, error)
	// CancelPayment undoes a payment on its own clearing day, in full.
	CancelPayment(ctx context.Context, r PayReversal) (PayOutcome, error)
	// RefundPayment returns some or all of a payment after its clearing
	// day.
	RefundPayment(ctx context.Context, r PayReversal) (PayOutcome, error)
	// Statement lists the terminal's transactions of a day, for
	// reconciliation.
	Statement(ctx context.Context, day time.Time) ([]StatementEntry, error)
}

// ErrNoAgreement is a patient who has signed no agreement: the patient's
// part is paid at the kiosk or the window.
var ErrNoAgreement = errors.New("no payment agreement")

// AgreementQuery names the patient whose agreement is looked up.
type AgreementQuery struct {
	IDNo, Name string
	Region     string // the insured region, which some channels key by
}

// Source kinds a patient can sign.
const (
	SourceBankCard    = "bank_card"    // a debit or credit card, password-free debit
	SourceCreditLine  = "credit_line"  // a bank's medical credit line (信用就医)
	SourceCardAccount = "card_account" // the social-security card's own financial account
)

// PaySource is one source of an agreement.
type PaySource struct {
	Kind string `json:"kind"`
	// Token names the source at the channel (the token of a token
	// payment); never shown.
	Token string `json:"-"`
	// Masked is how the source is shown: 6217 **** 0001.
	Masked string `json:"masked"`
	Bank   string `json:"bank,omitempty"`
	// Available is a credit line's unused amount, when the channel says.
	Available money.Fen `json:"available_fen,omitempty"`
}

// Agreement is what the patient signed, as the channel keeps it.
type Agreement struct {
	ID string `json:"id"`
	// AccountFirst: the patient's personal insurance account pays first
	// (2206's acct_used_flag); the sources pay the rest.
	AccountFirst bool `json:"account_first"`
	// Sources in the patient's order of priority.
	Sources []PaySource `json:"sources"`
	// The password-free limits in force, the patient's own where lower
	// than the rollout's (300 CNY per payment, 1,000 per day).
	PerPayment money.Fen `json:"per_payment_fen"`
	Daily      money.Fen `json:"daily_fen"`
	// Family is set when another person's agreement pays for this
	// patient (亲情付): the signer's sources are the ones above.
	Family *FamilyLink `json:"family,omitempty"`
}

// FamilyLink is how a family member's bills are paid by the signer.
type FamilyLink struct {
	Relation string `json:"relation"` // spouse, parent, child
	// ConfirmFirst: the family member confirms each bill (at a kiosk or in
	// the app) before it is paid; otherwise it is paid at once.
	ConfirmFirst bool   `json:"confirm_first"`
	Signer       string `json:"signer"` // the signer's name, masked
}

// AgreementRef names an agreement and who asks.
type AgreementRef struct {
	AgreementID string
	Operator    Operator
}

// SignRequest binds a source.
type SignRequest struct {
	Patient      AgreementQuery
	Source       PaySource // Token: the card number, or what the bank gave
	AccountFirst bool
	Operator     Operator // a cashier, or the kiosk for the patient alone
}

// LimitsRequest lowers the password-free limits (zero keeps one as is).
type LimitsRequest struct {
	AgreementRef
	PerPayment, Daily money.Fen
}

// PayOrder is one payment.
type PayOrder struct {
	OrderRef
	Amount      money.Fen
	AgreementID string
	Source      PaySource
	// Confirmed: the patient (or the family member) confirmed this payment
	// at the kiosk: it may exceed the password-free limit, and a
	// confirm-first family link is satisfied.
	Confirmed bool
	// Settlement is the agent's settlement id, the order's description.
	Settlement string
}

// OrderRef identifies an order at the channel.
type OrderRef struct {
	OrderID string    // 8 to 32 letters and digits
	TxnTime time.Time // when the order was first sent; part of its identity
}

// Payment outcomes.
const (
	PaySucceeded = "succeeded"
	PayRefused   = "refused"
	PayUnknown   = "unknown" // still processing: query the order again later
)

// Reasons a payment was refused.
const (
	ReasonNoAgreement     = "no_agreement"
	ReasonLimitPerPayment = "limit_per_payment"
	ReasonLimitDaily      = "limit_daily"
	ReasonInsufficient    = "insufficient_funds"
	ReasonConfirmRequired = "confirm_required"
	ReasonSourceInvalid   = "source_invalid" // expired, frozen or cancelled
	ReasonNotFound        = "not_found"      // a query of an order the channel never had
	ReasonOther           = "other"
)

// PayOutcome is what the channel answered about an order.
type PayOutcome struct {
	Status string
	// QueryID is the channel's id of the transaction, which a cancel or a
	// refund names.
	QueryID string
	Amount  money.Fen
	Reason  string // for PayRefused
	Message string // the channel's own words
	// SettleDate is the clearing day (MMdd) the transaction counts in.
	SettleDate string
}

// PayReversal cancels or refunds a payment: a new order of its own that
// names the original.
type PayReversal struct {
	OrderRef
	Original    OrderRef
	OriginalQID string // the original's QueryID
	Amount      money.Fen
}

// Statement entry kinds.
const (
	EntryPayment = "payment"
	EntryCancel  = "cancel"
	EntryRefund  = "refund"
)

// StatementEntry is one transaction of the channel's daily statement.
type StatementEntry struct {
	Kind    string
	OrderID string
	QueryID string
	TxnTime time.Time
	Amount  money.Fen
}
