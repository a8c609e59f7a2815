package agent

import (
	"fmt"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// ReceiptHeader is what every receipt of this terminal prints on top.
type ReceiptHeader struct {
	Institution string
	TerminalID  string
}

// Receipt is a settlement as the patient and the cashier read it. It is
// built only from a balanced split: Lines never show a gap.
type Receipt struct {
	Header      ReceiptHeader `json:"header"`
	ID          string        `json:"id"`
	SetlID      string        `json:"setl_id,omitempty"`
	State       State         `json:"state"`
	Patient     string        `json:"patient"` // masked
	Operator    string        `json:"operator"`
	Time        time.Time     `json:"time"`
	Items       []FeeItem     `json:"items"`
	Split       Split         `json:"split"`
	Payment     Payment       `json:"payment"`
	Refund      *Split        `json:"refund,omitempty"`
	Note        string        `json:"note,omitempty"`
	Provisional bool          `json:"provisional,omitempty"`
}

// Receipt builds the receipt of s. Personal data is masked.
func (s *Service) Receipt(st *Settlement) (Receipt, error) {
	switch st.State {
	case StateSettled, StateRefunded, StateRefunding, StateDeferred:
	default:
		return Receipt{}, fmt.Errorf("%w: settlement %s is %s: no receipt yet", ErrConflict, st.ID, st.State)
	}
	if !st.Split.Balanced() {
		return Receipt{}, fmt.Errorf("%w: settlement %s: %s", ErrUnbalanced, st.ID, st.Split)
	}
	r := Receipt{
		Header: s.header, ID: st.ID, SetlID: st.SetlID, State: st.State,
		Patient:  mask.Name(st.Personal.Name),
		Operator: st.Operator.ID, Time: st.SettledAt, Items: st.Bill.Items,
		Split: st.Split, Payment: st.Payment, Note: paymentNote(st.Payment),
	}
	if st.State == StateDeferred {
		r.Provisional, r.Time = true, st.DeferredAt
		r.Note = "DEFERRED: will be settled when the network is back; nothing is taken from your account until then"
	}
	if st.Refund != nil && st.Refund.State == StateRefunded {
		sp := st.Refund.Split
		r.Refund = &sp
	}
	return r, nil
}

// paymentNote tells the patient, in one line, what happened to the part
// they pay and what to do next.
func paymentNote(p Payment) string {
	who := ""
	if p.FamilyPay {
		who = " by the family-pay signer"
	}
	switch p.Status {
	case PayPaid:
		if p.Source == "" {
			return "nothing to pay"
		}
		return "paid" + who + " from " + sourceName(p.Source)
	case PayPending:
		return "NOT PAID: " + reasonText(p.Reason) + "; please pay at the kiosk or the window"
	case PayConfirmRequired:
		return "NOT PAID: the family-pay signer must confirm this bill first (kiosk or app)"
	case PayRefunded:
		return "refunded to where it was paid from"
	}
	return p.Status
}

func sourceName(s string) string {
	switch s {
	case protocol.SourceAccount:
		return "the personal insurance account"
	case protocol.SourceBank:
		return "the signed bank card"
	case protocol.SourceCredit:
		return "the medical credit line"
	}
	return s
}

func reasonText(code string) string {
	switch code {
	case protocol.CodeNoAgreement:
		return "no payment agreement signed"
	case protocol.CodeLimitPerTxn:
		return "over the password-free limit per payment"
	case protocol.CodeLimitDaily:
		return "over the password-free limit per day"
	case protocol.CodeInsufficientFunds:
		return "not enough in the signed account or card"
	}
	return code
}

// Text renders the receipt for a terminal or a receipt printer (40
// columns).
func (r Receipt) Text() string {
	var b strings.Builder
	line := func(label string, v money.Fen) { fmt.Fprintf(&b, "  %-24s %12s\n", label, v) }
	rule := strings.Repeat("-", 40)
	title := "RECEIPT"
	if r.Provisional {
		title = "PROVISIONAL RECEIPT"
	}
	fmt.Fprintf(&b, "%s\n%s  terminal %s\n%s\n", r.Header.Institution, title, r.Header.TerminalID, rule)
	fmt.Fprintf(&b, "Settlement  %s\n", r.ID)
	if r.SetlID != "" {
		fmt.Fprintf(&b, "Platform id %s\n", r.SetlID)
	}
	fmt.Fprintf(&b, "Patient     %s\nOperator    %s\nTime        %s\n%s\n", r.Patient, r.Operator, r.Time.In(protocol.CST).Format("2006-01-02 15:04:05"), rule)
	for _, it := range r.Items {
		name := it.Name
		if name == "" {
			name = it.Code
		}
		fmt.Fprintf(&b, "  %-22s x%-3d %10s\n", truncate(name, 22), it.Quantity, it.Amount)
	}
	fmt.Fprintln(&b, rule)
	line("Total", r.Split.Total)
	line("Insurance fund", r.Split.Fund)
	line("Personal account", r.Split.Account)
	line("Self-pay", r.Split.SelfPay)
	if r.Split.Estimate {
		fmt.Fprintln(&b, "  ESTIMATE: the fund's share assumes this year's")
		fmt.Fprintln(&b, "  deductible is met; final amounts when settled.")
		fmt.Fprintf(&b, "  You will pay at most %s.\n", r.Split.Total)
	}
	fmt.Fprintf(&b, "%s\nPatient's part %s: %s\n", rule, r.Split.Account+r.Split.SelfPay, r.Note)
	if r.Refund != nil {
		fmt.Fprintf(&b, "%s\nREFUNDED %s (fund %s, account %s, self-pay %s)\n", rule, -r.Refund.Total, -r.Refund.Fund, -r.Refund.Account, -r.Refund.SelfPay)
	}
	return b.String()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
