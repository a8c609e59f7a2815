package killtest

import (
	"fmt"
	"slices"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/sync/sandbox"
)

// Report counts what Check saw.
type Report struct {
	Bills            int
	States           map[agent.State]int // final states
	InDoubtResolved  int                 // bills that were in doubt at some point, now resolved
	Deferred         int                 // bills deferred at some point
	ActiveLedger     int                 // platform settlements still standing
	ReversedLedger   int                 // platform settlements reversed (attempts given up)
	CancelledLedger  int
	AnsweredSettled  int // bills a client was told were settled
	AnsweredDeclined int
}

// Check compares, to the fen, what the clients were told and what the
// agent finally shows (final, by idempotency key, with its event history)
// with the platform's ledger:
//
//   - each key names one settlement id in every answer and in the end;
//   - a bill a client was told is settled stays settled, with the split it
//     was told;
//   - every bill settled in the end has exactly one standing platform
//     settlement whose chrg_bchno is its id, with the same setl_id, total,
//     fund, account and self-pay amounts and payment status;
//   - a bill not settled in the end (declined, refused, reversed) has no
//     standing platform settlement, and none is left unresolved;
//   - no standing platform settlement exists that is not one of those
//     bills' (no stray or duplicate charge), and every one is this
//     terminal's.
func Check(bills []*Bill, final map[string]api.SettlementView, ledger sandbox.Ledger, devNo string) (Report, []error) {
	rep := Report{Bills: len(bills), States: map[agent.State]int{}}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrMismatch}, args...)...))
	}
	standing := map[string][]sandbox.LedgerSettlement{} // chrg_bchno → standing settlements
	for _, ls := range ledger.Settlements {
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
	owned := map[string]bool{} // settlement ids of bills settled in the end
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
			checkSettled(b, f, got, fail)
		case agent.StateDeclined, agent.StateFailed, agent.StateArrears, agent.StateVoided:
			for _, ls := range got {
				fail("bill %s (%s) is %s, but the platform holds settlement %s of %s for it", b.Key, f.ID, f.State, ls.SetlID, ls.MedfeeSumamt.Fen())
			}
		default:
			fail("bill %s (%s) is still %s after the drain", b.Key, f.ID, f.State)
		}
	}
	for id, list := range standing {
		if !owned[id] {
			for _, ls := range list {
				fail("platform settlement %s (chrg_bchno %s, %s) belongs to no settled bill: a stray charge", ls.SetlID, id, ls.MedfeeSumamt.Fen())
			}
		}
	}
	return rep, errs
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
		case agent.StateSettled:
			settledTold = true
			if f.State != agent.StateSettled || a.SetlID != f.SetlID || !sameSplit(a.Split, f.Split) {
				fail("bill %s: a client was told settled %s (%s), the agent now shows %s %s (%s)",
					b.Key, a.SetlID, a.Split, f.State, f.SetlID, f.Split)
			}
			if !a.Split.Balanced() || a.Split.Total != b.Body.Bill.Total() {
				fail("bill %s: the answer's split %s does not balance to the bill's %s", b.Key, a.Split, b.Body.Bill.Total())
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
		{"self-pay", f.Split.SelfPay, ls.PsnCashPay.Fen()},
		{"payment status", f.Payment.Status, ls.Status},
	}
	for _, w := range want {
		if w.agentSays != w.platform {
			fail("bill %s (%s): %s is %v at the agent and %v at the platform", b.Key, f.ID, w.what, w.agentSays, w.platform)
		}
	}
}

func sameSplit(a, b agent.Split) bool {
	return a.Total == b.Total && a.Fund == b.Fund && a.Account == b.Account && a.SelfPay == b.SelfPay
}
