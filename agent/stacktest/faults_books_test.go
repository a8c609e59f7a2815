package stacktest_test

// What the HIS and the forwarder do once a network fault is healed, and
// the check that the platform's books agree with the journal afterwards:
// the end of every test in faults_test.go.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/agent/stacktest/model"
	"github.com/seed-a859fada/medterm/sync/sandbox"
)

// resolve heals nothing itself: with the fault gone, it does what the HIS
// and the forwarder do until every bill and refund has a final answer.
// The HIS submits again, under the same key, every bill whose last answer
// was not final (failed, in doubt, or an error); the forwarder drains the
// deferred and unfinished ones; a refund still under way is asked for
// again.
func resolve(t *testing.T, s *stacktest.Stack, bills []*faultBill, refunds []*faultBill) {
	t.Helper()
	ctx := context.Background()
	end := time.Now().Add(30 * time.Second)
	for {
		s.Drain(t, 10*time.Second)
		open := 0
		for _, b := range bills {
			if b.id != "" {
				st, err := s.Service.Get(ctx, b.id)
				if err != nil {
					t.Fatal(err)
				}
				if st.State.Terminal() || st.State == agent.StateRefunding {
					continue
				}
			}
			open++
			b.record(s.API.Settle(ctx, b.key, b.body))
		}
		for _, b := range refunds {
			if st, err := s.Service.Get(ctx, b.id); err != nil || st.State != agent.StateRefunding {
				continue
			}
			open++
			<-refundAsync(s, b)
		}
		left, err := s.Service.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if open == 0 && len(left) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d bills without a final answer and %d settlements pending after the fault was healed", open, len(left))
		}
	}
}

// books is what checkBooks found, for the tests' own expectations.
type books struct {
	inDoubt  int // settlements that were in doubt at some point
	reversed int // settlement attempts reversed (prior msgids)
	booked   int // active bookings on the platform
}

// checkBooks holds the platform's ledger against the journal and the
// answers the HIS got:
//   - nothing is pending: no settlement settling, in doubt, reversing,
//     refunding or deferred;
//   - every booking is for a bill of this terminal (no stray), under a
//     msgid the journal knows;
//   - a settled bill is booked exactly once, under its current 2207
//     msgid, for the agent's split to the fen; a refunded one was booked
//     once and cancelled under its 2208 msgid; any other is not booked;
//   - every 2207 msgid given up (PriorMsgids) is resolved on the platform:
//     booked and then reversed, or never booked and refused for ever
//     (tombstoned);
//   - every answer "settled" the HIS got is the bill's final booking.
func checkBooks(t *testing.T, s *stacktest.Stack, bills []*faultBill) books {
	t.Helper()
	ctx := context.Background()
	all, err := s.Journal.List(ctx, agent.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Sandbox.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got books
	byID := map[string]*agent.Settlement{}
	for _, st := range all {
		byID[st.ID] = st
		switch st.State {
		case agent.StateSettling, agent.StateInDoubt, agent.StateReversing, agent.StatePaying, agent.StateRefunding, agent.StateDeferred:
			t.Errorf("%s is still %s after the fault was healed and the forwarder drained", st.ID, st.State)
		}
		if slices.ContainsFunc(st.Events, func(e agent.Event) bool { return e.State == agent.StateInDoubt }) {
			got.inDoubt++
		}
		got.reversed += len(st.PriorMsgids)
	}
	bookings := map[string][]sandbox.LedgerSettlement{}
	for _, e := range l.Settlements {
		if _, ok := byID[e.ChrgBchno]; !ok || e.DevNo != "DESK01" {
			t.Errorf("stray booking %s (msgid %s, chrg_bchno %q): no bill of this terminal", e.SetlID, e.Msgid, e.ChrgBchno)
			continue
		}
		bookings[e.ChrgBchno] = append(bookings[e.ChrgBchno], e)
	}
	tombstoned := map[string]bool{}
	for _, m := range l.Tombstones {
		tombstoned[m] = true
	}
	for _, st := range all {
		var active, cancelled []sandbox.LedgerSettlement
		reversed := map[string]bool{}
		for _, e := range bookings[st.ID] {
			switch {
			case e.Reversed:
				reversed[e.Msgid] = true
				if !slices.Contains(st.PriorMsgids, e.Msgid) {
					t.Errorf("%s: the platform reversed msgid %s, which the journal does not list as given up (%v)", st.ID, e.Msgid, st.PriorMsgids)
				}
			case e.Cancelled:
				cancelled = append(cancelled, e)
			default:
				active = append(active, e)
			}
		}
		for _, m := range st.PriorMsgids {
			if !reversed[m] && !tombstoned[m] {
				t.Errorf("%s: the attempt under msgid %s was given up but is neither reversed nor refused on the platform", st.ID, m)
			}
		}
		want := func(e sandbox.LedgerSettlement) {
			t.Helper()
			if e.Msgid != st.Msgids[agent.StepSettle] || e.SetlID != st.SetlID {
				t.Errorf("%s: booked under msgid %s (%s); the journal says %s (%s)", st.ID, e.Msgid, e.SetlID, st.Msgids[agent.StepSettle], st.SetlID)
			}
			sp := st.Split
			if e.MedfeeSumamt.Fen() != sp.Total || e.FundPaySumamt.Fen() != sp.Fund || e.AcctPay.Fen() != sp.Account || e.PsnCashPay.Fen() != sp.Cash {
				t.Errorf("%s: booked %s = %s + %s + %s; the agent's split is %s", st.ID, e.MedfeeSumamt.Fen(), e.FundPaySumamt.Fen(), e.AcctPay.Fen(), e.PsnCashPay.Fen(), sp)
			}
			if !sp.Balanced() || sp.Total != st.Bill.Total() || sp.Estimate {
				t.Errorf("%s: split %s (estimate %v) for a bill of %s", st.ID, sp, sp.Estimate, st.Bill.Total())
			}
		}
		switch st.State {
		case agent.StateSettled:
			if len(active) != 1 || len(cancelled) != 0 {
				t.Errorf("%s is settled and booked %d times (%d cancelled); want once", st.ID, len(active), len(cancelled))
				continue
			}
			want(active[0])
			got.booked++
		case agent.StateRefunded:
			if len(active) != 0 || len(cancelled) != 1 {
				t.Errorf("%s is refunded: %d active and %d cancelled bookings; want one cancelled", st.ID, len(active), len(cancelled))
				continue
			}
			want(cancelled[0])
			if cancelled[0].CancelMsgid != st.Msgids[agent.StepCancel] {
				t.Errorf("%s: cancelled under msgid %s; the journal sent %s", st.ID, cancelled[0].CancelMsgid, st.Msgids[agent.StepCancel])
			}
		default:
			if len(active)+len(cancelled) != 0 {
				t.Errorf("%s is %s and booked %d times", st.ID, st.State, len(active)+len(cancelled))
			}
		}
	}
	for _, b := range bills {
		st := byID[b.id]
		if st == nil {
			t.Errorf("bill %s: not in the journal", b.key)
			continue
		}
		for _, v := range b.answers {
			if v.ID != st.ID {
				t.Errorf("bill %s: answered as %s and as %s", b.key, v.ID, st.ID)
			}
			if v.State == agent.StateSettled && (!sameSplit(v.Split, st.Split) || v.SetlID != st.SetlID || (st.State != agent.StateSettled && st.State != agent.StateRefunded)) {
				t.Errorf("bill %s: the HIS was told settled %s (%s); the journal has %s %s (%s)", b.key, v.Split, v.SetlID, st.State, st.Split, st.SetlID)
			}
		}
	}
	// The payment leg and the balances, on both ledgers.
	assertLedgers(t, s)
	return got
}

// assertLedgers holds both counterparties' books against the journal
// (model.CheckLedgers): the platform's bookings and personal accounts,
// and the payment channel's orders and sources, from the books as the
// stack seeded them.
func assertLedgers(t *testing.T, s *stacktest.Stack) {
	t.Helper()
	ctx := context.Background()
	all, err := s.Journal.List(ctx, agent.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := s.Sandbox.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pay, err := s.PayChannel.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	start := model.Ledgers{Insurance: s.InsuranceStart, Payment: s.PayStart}
	if err := model.CheckLedgers(all, start, model.Ledgers{Insurance: ins, Payment: pay}); err != nil {
		t.Errorf("the books differ from the journal:\n%v", err)
	}
}

// wantAllSettled checks that every bill ended settled: the patients are
// chosen so that nothing is declined once the platform answers.
func wantAllSettled(t *testing.T, s *stacktest.Stack, bills []*faultBill) {
	t.Helper()
	for _, b := range bills {
		st, err := s.Service.Get(context.Background(), b.id)
		if err != nil || st.State != agent.StateSettled {
			t.Errorf("bill %s: %v, want settled", b.key, err)
			if st != nil {
				t.Errorf("  it is %s: %+v", st.State, st.Error)
			}
		}
	}
}

// sameSplit reports whether two splits have the same amounts, fund by
// fund (a split holds a slice, so it has no ==).
func sameSplit(a, b agent.InsuranceSplit) bool {
	return a.Total == b.Total && a.Fund == b.Fund && a.Account == b.Account && a.MutualAid == b.MutualAid &&
		a.Cash == b.Cash && a.Hospital == b.Hospital && a.Estimate == b.Estimate && slices.Equal(a.Funds, b.Funds)
}
