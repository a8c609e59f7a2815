package killtest

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox"
)

// fixture is a run of two bills: one settled (after an attempt that was
// reversed), one declined; the ledger agrees with the agent.
type fixture struct {
	bills  []*Bill
	final  map[string]api.SettlementView
	ledger sandbox.Ledger
}

func newFixture() *fixture {
	bill := func(key string, total money.Fen) *Bill {
		b := &Bill{Key: key}
		b.Body.Bill.Items = []agent.FeeItem{{Code: "110200001", Quantity: 1, UnitPrice: total, Amount: total}}
		return b
	}
	split := agent.Split{Total: 12345, Fund: 6000, Account: 4000, SelfPay: 2345}
	settled := api.SettlementView{ID: "S1", State: agent.StateSettled, SetlID: "P2", Split: split, Payment: agent.Payment{Status: agent.PayPaid},
		Events: []agent.Event{{State: agent.StateInDoubt}, {State: agent.StateSettled}}}
	declined := api.SettlementView{ID: "S2", State: agent.StateDeclined}
	entry := func(setl, chrg string, s agent.Split) sandbox.LedgerSettlement {
		return sandbox.LedgerSettlement{SetlID: setl, ChrgBchno: chrg, Institution: Institution, DevNo: "T1", Status: agent.PayPaid,
			MedfeeSumamt: money.Decimal(s.Total), FundPaySumamt: money.Decimal(s.Fund), AcctPay: money.Decimal(s.Account), PsnCashPay: money.Decimal(s.SelfPay)}
	}
	reversed := entry("P1", "S1", split)
	reversed.Reversed = true
	b1, b2 := bill("his-1", 12345), bill("his-2", 800)
	b1.Answers = []api.SettlementView{{ID: "S1", State: agent.StateInDoubt}, settled}
	b2.Answers = []api.SettlementView{declined}
	return &fixture{
		bills:  []*Bill{b1, b2},
		final:  map[string]api.SettlementView{"his-1": settled, "his-2": declined},
		ledger: sandbox.Ledger{Settlements: []sandbox.LedgerSettlement{reversed, entry("P2", "S1", split)}},
	}
}

func TestCheckFindsEveryWayTheLedgerCanDisagreeWithTheAnswers(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *fixture)
		want   string // in an error; empty: no error
	}{
		{"agreement, a reversed attempt not counted", func(*fixture) {}, ""},
		{"a duplicate charge", func(f *fixture) {
			dup := f.ledger.Settlements[1]
			dup.SetlID = "P3"
			f.ledger.Settlements = append(f.ledger.Settlements, dup)
		}, "2 standing settlements"},
		{"a settled bill the platform never booked", func(f *fixture) {
			f.ledger.Settlements = f.ledger.Settlements[:1]
		}, "0 standing settlements"},
		{"a stray charge for no bill", func(f *fixture) {
			stray := f.ledger.Settlements[1]
			stray.SetlID, stray.ChrgBchno = "P9", "S9"
			f.ledger.Settlements = append(f.ledger.Settlements, stray)
		}, "stray charge"},
		{"the fund one fen off", func(f *fixture) {
			f.ledger.Settlements[1].FundPaySumamt++
			f.ledger.Settlements[1].PsnCashPay--
		}, "fund is 60.00 at the agent and 60.01"},
		{"another payment status", func(f *fixture) {
			f.ledger.Settlements[1].Status = agent.PayPending
		}, "payment status"},
		{"a declined bill charged", func(f *fixture) {
			charged := f.ledger.Settlements[1]
			charged.SetlID, charged.ChrgBchno = "P4", "S2"
			f.ledger.Settlements = append(f.ledger.Settlements, charged)
		}, "is declined, but the platform holds"},
		{"told settled, now failed", func(f *fixture) {
			v := f.final["his-1"]
			v.State = agent.StateFailed
			f.final["his-1"] = v
		}, "was told settled"},
		{"told settled with another split", func(f *fixture) {
			f.bills[0].Answers[1].Split.Fund--
			f.bills[0].Answers[1].Split.SelfPay++
		}, "was told settled"},
		{"one key, two settlements", func(f *fixture) {
			f.bills[0].Answers[0].ID = "S7"
		}, "answer 1 names settlement S7"},
		{"told declined, now settled", func(f *fixture) {
			f.bills[0].Answers[0].State = agent.StateDeclined
		}, "was told declined"},
		{"still in doubt after the drain", func(f *fixture) {
			v := f.final["his-2"]
			v.State = agent.StateInDoubt
			f.final["his-2"] = v
		}, "still in_doubt"},
		{"a bill the agent lost", func(f *fixture) {
			delete(f.final, "his-2")
		}, "shows no settlement"},
		{"booked for another terminal", func(f *fixture) {
			f.ledger.Settlements[1].DevNo = "T2"
		}, "booked for"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			c.change(f)
			_, errs := Check(f.bills, f.final, f.ledger, "T1")
			if c.want == "" {
				for _, e := range errs {
					t.Errorf("unexpected: %v", e)
				}
				return
			}
			for _, e := range errs {
				if errors.Is(e, ErrMismatch) && strings.Contains(e.Error(), c.want) {
					return
				}
			}
			t.Errorf("no error says %q; got %v", c.want, errs)
		})
	}
}

func TestCheckCountsTheRun(t *testing.T) {
	f := newFixture()
	rep, errs := Check(f.bills, f.final, f.ledger, "T1")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	want := Report{Bills: 2, States: map[agent.State]int{agent.StateSettled: 1, agent.StateDeclined: 1}, InDoubtResolved: 1,
		ActiveLedger: 1, ReversedLedger: 1, AnsweredSettled: 1, AnsweredDeclined: 1}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report %+v; want %+v", rep, want)
	}
}
