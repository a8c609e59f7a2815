package killtest

import (
	"fmt"
	"slices"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Report counts what Check saw.
type Report struct {
	Bills            int
	States           map[agent.State]int // final states
	Payments         map[string]int      // final payment statuses of settled bills
	InDoubtResolved  int                 // bills that were in doubt at some point, now resolved
	Deferred         int                 // bills deferred at some point
	ActiveLedger     int                 // platform settlements still standing
	ReversedLedger   int                 // platform settlements reversed (attempts given up)
	CancelledLedger  int
	AnsweredSettled  int // bills a client was told were settled
	AnsweredDeclined int
	// The payment channel: payments booked, orders it refused, and bills
	// whose part took more than one order (a source short of funds, an
	// order sent again after a crash).
	ChannelBooked  int
	ChannelRefused int
	MultiOrder     int
}

// Ledgers are the two counterparties' books at the end of a run.
type Ledgers struct {
	Insurance sandbox.Ledger
	Payment   paychannel.Ledger
}

// Check compares, to the fen, what the clients were told and what the
// agent finally shows (final, by idempotency key, with its event history
// and its payment orders) with both counterparties' ledgers:
//
//   - each key names one settlement id in every answer and in the end;
//   - a bill a client was told is settled stays settled, with the split
//     and the payment it was told; one told its part is being paid ends
//     settled with the split it was told;
//   - every bill settled in the end has exactly one standing platform
//     settlement whose chrg_bchno is its id, with the same setl_id, total,
//     fund, account and cash amounts;
//   - a bill not settled in the end (declined, refused, reversed) has no
//     standing platform settlement, and none is left unresolved;
//   - no standing platform settlement exists that is not one of those
//     bills' (no stray or duplicate charge), and every one is this
//     terminal's;
//   - on the payment channel, every part the agent shows paid is booked
//     exactly once, for its amount, by the order the agent recorded; a
//     part not paid (pending, to confirm, nothing to pay, or a bill not
//     settled) has no booked payment; no booked payment belongs to no
//     bill's order; nothing was given back (the run refunds nothing).
func Check(bills []*Bill, final map[string]api.SettlementView, l Ledgers, devNo string) (Report, []error) {
	rep := Report{Bills: len(bills), States: map[agent.State]int{}, Payments: map[string]int{}}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrMismatch}, args...)...))
	}
	standing := map[string][]sandbox.LedgerSettlement{} // chrg_bchno → standing settlements
	for _, ls := range l.Insurance.Settlements {
		switch {
		case ls.Reversed:
			rep.ReversedLedger++
		case ls.Cancelled:
			rep.CancelledLedger++
		default:
			rep.ActiveLedger++
			standing[ls.ChrgBchno] = append(standing[ls.ChrgBchno], ls)
		}
		if ls.Institution != Institution || ls.DevNo != devNo {
			fail("platform settlement %s was booked for %s/%s; want %s/%s", ls.SetlID, ls.Institution, ls.DevNo, Institution, devNo)
		}
	}
	channel := channelBook(l.Payment, &rep, fail)
	owned := map[string]bool{}     // settlement ids of bills settled in the end
	ordered := map[string]string{} // the agent's payment order ids → the bill's key
	for _, b := range bills {
		f, ok := final[b.Key]
		if !ok {
			fail("bill %s: the agent shows no settlement for it", b.Key)
			continue
		}
		rep.States[f.State]++
		checkAnswers(b, f, &rep, fail)
		if slices.ContainsFunc(f.Events, func(e agent.Event) bool { return e.State == agent.StateInDoubt }) {
			rep.InDoubtResolved++
		}
		if slices.ContainsFunc(f.Events, func(e agent.Event) bool { return e.State == agent.StateDeferred }) {
			rep.Deferred++
		}
		got := standing[f.ID]
		switch f.State {
		case agent.StateSettled:
			owned[f.ID] = true
			rep.Payments[f.Pay.Status]++
			checkSettled(b, f, got, fail)
		case agent.StateDeclined, agent.StateFailed, agent.StateArrears, agent.StateVoided:
			for _, ls := range got {
				fail("bill %s (%s) is %s, but the platform holds settlement %s of %s for it", b.Key, f.ID, f.State, ls.SetlID, ls.MedfeeSumamt.Fen())
			}
		default:
			fail("bill %s (%s) is still %s after the drain", b.Key, f.ID, f.State)
		}
		checkPayment(b, f, channel, ordered, &rep, fail)
	}
	for id, list := range standing {
		if !owned[id] {
			for _, ls := range list {
				fail("platform settlement %s (chrg_bchno %s, %s) belongs to no settled bill: a stray charge", ls.SetlID, id, ls.MedfeeSumamt.Fen())
			}
		}
	}
	for id, o := range channel {
		if _, ok := ordered[id]; !ok && o.Booked() {
			fail("the payment channel booked order %s (%s, %s) that no bill's payment leg sent: a stray debit", id, o.QueryID, o.Amount)
		}
	}
	return rep, errs
}

// channelBook indexes the channel's payments by order id, and reports
// what the run never asks for: another merchant, a payment given back.
func channelBook(l paychannel.Ledger, rep *Report, fail func(string, ...any)) map[string]paychannel.LedgerOrder {
	out := map[string]paychannel.LedgerOrder{}
	for _, o := range l.Orders {
		if o.MerID != paychannel.MerchantID {
			fail("the payment channel holds order %s of merchant %s; want %s", o.OrderID, o.MerID, paychannel.MerchantID)
		}
		switch o.TxnType {
		case acp.TxnConsume:
			out[o.OrderID] = o
			if o.Booked() {
				rep.ChannelBooked++
			} else {
				rep.ChannelRefused++
			}
			if o.Cancelled || o.Refunded != 0 {
				fail("payment %s (%s) was given back (cancelled %v, refunded %s), which nobody asked for", o.OrderID, o.Amount, o.Cancelled, o.Refunded)
			}
		default:
			if o.Booked() {
				fail("the payment channel booked order %s of type %s for %s; the run pays and refunds nothing else", o.OrderID, o.TxnType, o.Amount)
			}
		}
	}
	return out
}

// checkPayment checks a bill's payment leg against the channel's books.
func checkPayment(b *Bill, f api.SettlementView, channel map[string]paychannel.LedgerOrder, ordered map[string]string, rep *Report, fail func(string, ...any)) {
	var booked []paychannel.LedgerOrder
	var succeeded []agent.PayOrderRecord
	pays := 0
	for _, o := range f.Pay.Orders {
		if prev, dup := ordered[o.OrderID]; dup {
			fail("bill %s: payment order %s is also bill %s's", b.Key, o.OrderID, prev)
		}
		ordered[o.OrderID] = b.Key
		if o.Kind != agent.OrderPay {
			fail("bill %s: a %s order %s, in a run that refunds nothing", b.Key, o.Kind, o.OrderID)
			continue
		}
		pays++
		if o.Status == agent.OrderSucceeded {
			succeeded = append(succeeded, o)
		}
		if c, ok := channel[o.OrderID]; ok && c.Booked() {
			booked = append(booked, c)
		}
	}
	if pays > 1 {
		rep.MultiOrder++
	}
	paid := f.State == agent.StateSettled && f.Pay.Status == agent.PayPaid
	if !paid {
		for _, c := range booked {
			fail("bill %s (%s, part %s) shows its part %s, but the payment channel booked order %s for %s",
				b.Key, f.State, f.Pay.Amount, f.Pay.Status, c.OrderID, c.Amount)
		}
		for _, o := range succeeded {
			fail("bill %s: order %s succeeded, yet the part is %s", b.Key, o.OrderID, f.Pay.Status)
		}
		return
	}
	if len(booked) != 1 || len(succeeded) != 1 {
		fail("bill %s (%s): its part %s is paid; the channel booked %d of its orders and the agent recorded %d as succeeded, want exactly 1 each",
			b.Key, f.ID, f.Pay.Amount, len(booked), len(succeeded))
		return
	}
	c, o := booked[0], succeeded[0]
	want := []struct {
		what      string
		agentSays any
		channel   any
	}{
		{"order", o.OrderID, c.OrderID},
		{"query id", o.QueryID, c.QueryID},
		{"paid amount", f.Pay.Amount, c.Amount},
		{"the split's cash", f.Split.Cash, c.Amount},
		{"the order's amount", o.Amount, c.Amount},
	}
	for _, w := range want {
		if w.agentSays != w.channel {
			fail("bill %s (%s): %s is %v at the agent and %v at the payment channel", b.Key, f.ID, w.what, w.agentSays, w.channel)
		}
	}
}

// checkAnswers checks what the clients were told about b against where
// it ended.
func checkAnswers(b *Bill, f api.SettlementView, rep *Report, fail func(string, ...any)) {
	settledTold, declinedTold := false, false
	for i, a := range b.Answers {
		if a.ID != f.ID {
			fail("bill %s: answer %d names settlement %s, the agent now shows %s", b.Key, i+1, a.ID, f.ID)
		}
		switch a.State {
		case agent.StateSettled, agent.StatePaying:
			// The insured part was booked: it stands, as told.
			if a.State == agent.StateSettled {
				settledTold = true
			}
			if f.State != agent.StateSettled || a.SetlID != f.SetlID || !sameSplit(a.Split, f.Split) {
				fail("bill %s: a client was told %s %s (%s), the agent now shows %s %s (%s)",
					b.Key, a.State, a.SetlID, a.Split, f.State, f.SetlID, f.Split)
			}
			if !a.Split.Balanced() || a.Split.Total != b.Body.Bill.Total() {
				fail("bill %s: the answer's split %s does not balance to the bill's %s", b.Key, a.Split, b.Body.Bill.Total())
			}
			if a.State == agent.StateSettled && (a.Pay.Status != f.Pay.Status || a.Pay.Amount != f.Pay.Amount) {
				fail("bill %s: a client was told the part of %s is %s, the agent now shows %s of %s",
					b.Key, a.Pay.Amount, a.Pay.Status, f.Pay.Status, f.Pay.Amount)
			}
		case agent.StateDeclined:
			declinedTold = true
			if f.State != agent.StateDeclined {
				fail("bill %s: a client was told declined, the agent now shows %s", b.Key, f.State)
			}
		}
	}
	if settledTold {
		rep.AnsweredSettled++
	}
	if declinedTold {
		rep.AnsweredDeclined++
	}
}

// checkSettled checks a bill settled in the end against its standing
// platform settlements.
func checkSettled(b *Bill, f api.SettlementView, got []sandbox.LedgerSettlement, fail func(string, ...any)) {
	if len(got) != 1 {
		fail("bill %s (%s) is settled; the platform holds %d standing settlements for it, want exactly 1", b.Key, f.ID, len(got))
		return
	}
	ls := got[0]
	want := []struct {
		what      string
		agentSays any
		platform  any
	}{
		{"setl_id", f.SetlID, ls.SetlID},
		{"total", f.Split.Total, ls.MedfeeSumamt.Fen()},
		{"bill total", b.Body.Bill.Total(), ls.MedfeeSumamt.Fen()},
		{"fund", f.Split.Fund, ls.FundPaySumamt.Fen()},
		{"account", f.Split.Account, ls.AcctPay.Fen()},
		{"cash", f.Split.Cash, ls.PsnCashPay.Fen()},
		{"hospital part", f.Split.Hospital, ls.MedfeeSumamt.Fen() - ls.FundPaySumamt.Fen() - ls.AcctPay.Fen() - ls.PsnCashPay.Fen()},
	}
	for _, w := range want {
		if w.agentSays != w.platform {
			fail("bill %s (%s): %s is %v at the agent and %v at the platform", b.Key, f.ID, w.what, w.agentSays, w.platform)
		}
	}
	if f.Pay.Amount != f.Split.Cash {
		fail("bill %s (%s): the payment leg is for %s, the split's cash is %s", b.Key, f.ID, f.Pay.Amount, f.Split.Cash)
	}
}

func sameSplit(a, b agent.InsuranceSplit) bool {
	return a.Total == b.Total && a.Fund == b.Fund && a.Account == b.Account && a.Cash == b.Cash && a.Hospital == b.Hospital
}
