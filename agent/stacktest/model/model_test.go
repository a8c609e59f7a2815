package model

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// world is a small finished run: one bill settled (paid from the bank
// card), one refunded, one voided, and the platform's ledger that matches.
type world struct {
	m          *Model
	records    []*agent.Settlement
	start, end sandbox.Ledger
}

func newWorld() *world {
	w := &world{m: New(agent.DefaultOfflinePolicy())}
	add := func(key string, state agent.State, amount money.Fen) *agent.Settlement {
		b := &Bill{Key: key, Persona: "p", CertType: protocol.CertSSCard, Amount: amount, Mode: agent.ModePreferOnline, ID: "S-" + key, State: state}
		w.m.Add(b)
		st := &agent.Settlement{
			ID: b.ID, IdempotencyKey: key, State: state,
			Bill:   agent.Bill{Items: []agent.FeeItem{{Quantity: 1, UnitPrice: amount, Amount: amount}}},
			Msgids: map[string]string{protocol.Settle.Infno: "M-" + key},
		}
		st.Personal.PsnNo = "PSN1"
		w.records = append(w.records, st)
		return st
	}
	settled := add("a", agent.StateSettled, 10000)
	settled.Split = agent.Split{Total: 10000, Fund: 7000, Account: 0, SelfPay: 3000}
	settled.SetlID, settled.Payment = "SETL-a", agent.Payment{Status: agent.PayPaid, Source: protocol.SourceBank}
	refunded := add("b", agent.StateRefunded, 5000)
	w.m.Bill("b").RefundAsked = true
	refunded.Split = agent.Split{Total: 5000, Fund: 2500, SelfPay: 2500}
	refunded.SetlID, refunded.Msgids[protocol.CancelSettle.Infno] = "SETL-b", "C-b"
	refunded.Refund = &agent.Refund{State: agent.StateRefunded, Split: agent.Split{Total: -5000, Fund: -2500, SelfPay: -2500}}
	refunded.Payment = agent.Payment{Status: agent.PayRefunded, Source: protocol.SourceBank}
	add("c", agent.StateVoided, 3000).DeferredAt = time.Now()
	w.m.Bill("c").Voided = true

	d := func(f money.Fen) money.Decimal { return money.Decimal(f) }
	w.end.Settlements = []sandbox.LedgerSettlement{
		{SetlID: "SETL-a", Msgid: "M-a", ChrgBchno: "S-a", PsnNo: "PSN1", MedfeeSumamt: d(10000), FundPaySumamt: d(7000), PsnCashPay: d(3000), Status: agent.PayPaid, Source: protocol.SourceBank},
		{SetlID: "SETL-b", Msgid: "M-b", ChrgBchno: "S-b", PsnNo: "PSN1", MedfeeSumamt: d(5000), FundPaySumamt: d(2500), PsnCashPay: d(2500), Status: agent.PayPaid, Source: protocol.SourceBank, Cancelled: true, CancelMsgid: "C-b"},
	}
	w.start.People = []sandbox.LedgerPerson{{Key: "p", PsnNo: "PSN1", AccountBalance: d(1000), BankBalance: d(50000), Years: map[string]sandbox.LedgerUsage{"2025": {FundPaid: d(100)}}}}
	w.end.People = []sandbox.LedgerPerson{{Key: "p", PsnNo: "PSN1", AccountBalance: d(1000), BankBalance: d(47000), Years: map[string]sandbox.LedgerUsage{"2025": {FundPaid: d(7100)}}}}
	return w
}

func TestCheckPassesAFinishedRunThatMatches(t *testing.T) {
	w := newWorld()
	if err := w.m.Check(w.records, w.start, w.end); err != nil {
		t.Fatal(err)
	}
}

func TestCheckFindsEveryKindOfDifference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(w *world)
		want   string
	}{
		{"a bill charged twice", func(w *world) {
			dup := w.end.Settlements[0]
			dup.SetlID, dup.Msgid = "SETL-a2", "M-a2"
			w.end.Settlements = append(w.end.Settlements, dup)
		}, "2 active"},
		{"a fen more for the fund", func(w *world) { w.end.Settlements[0].FundPaySumamt++ }, "platform booked"},
		{"booked under another msgid", func(w *world) { w.end.Settlements[0].Msgid = "M-other" }, "msgid M-other"},
		{"a settlement the agent never recorded", func(w *world) {
			w.end.Settlements = append(w.end.Settlements, sandbox.LedgerSettlement{SetlID: "X", ChrgBchno: "S-nobody"})
		}, "no record"},
		{"a refund the platform never booked", func(w *world) { w.end.Settlements[1].Cancelled = false }, "refunded"},
		{"a voided bill booked after all", func(w *world) {
			w.end.Settlements = append(w.end.Settlements, sandbox.LedgerSettlement{SetlID: "SETL-c", Msgid: "M-c", ChrgBchno: "S-c"})
		}, "want not booked"},
		{"a reversal the agent never asked for", func(w *world) {
			w.end.Settlements = append(w.end.Settlements, sandbox.LedgerSettlement{SetlID: "SETL-a0", Msgid: "M-a0", ChrgBchno: "S-a", Reversed: true})
		}, "never gave up"},
		{"a bank balance a fen short", func(w *world) { w.end.People[0].BankBalance-- }, "bank_card holds"},
		{"the fund's consumption off", func(w *world) { w.end.People[0].Years["2025"] = sandbox.LedgerUsage{FundPaid: 7000} }, "fund paid"},
		{"a bill left pending", func(w *world) { w.records[0].State = agent.StateInDoubt }, "still in_doubt"},
		{"a bill the HIS never sent", func(w *world) {
			w.records = append(w.records, &agent.Settlement{ID: "S-z", IdempotencyKey: "z", State: agent.StateDeclined})
		}, "no HIS submitted"},
		{"a refund asked and never done", func(w *world) {
			w.m.Bill("a").RefundAsked = true
		}, "want booked once and refunded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			tc.tamper(w)
			err := w.m.Check(w.records, w.start, w.end)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v; want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestObserveRefusesStatesABillCannotReach(t *testing.T) {
	for _, tc := range []struct {
		name string
		bill Bill
		seen agent.State // before
		now  agent.State
		want string
	}{
		{"an insured patient declined", Bill{}, agent.StateSettling, agent.StateDeclined, "no reason to refuse"},
		{"a refused patient settled", Bill{Declines: true}, agent.StateSettling, agent.StateSettled, "refuses this patient"},
		{"voided by nobody", Bill{}, agent.StateDeferred, agent.StateVoided, "nobody voided"},
		{"refunded by nobody", Bill{}, agent.StateSettled, agent.StateRefunding, "nobody asked"},
		{"a settled bill failing", Bill{}, agent.StateSettled, agent.StateFailed, "only be refunded"},
		{"out of arrears", Bill{Declines: true}, agent.StateArrears, agent.StateDeferred, "final state"},
		{"deferred though online was required", Bill{Mode: agent.ModeRequireOnline}, agent.StateAccepted, agent.StateDeferred, "required online"},
		{"deferred by ID number", Bill{CertType: protocol.CertIDNo}, agent.StateAccepted, agent.StateDeferred, "forbid deferring"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(agent.DefaultOfflinePolicy())
			b := tc.bill
			b.Key, b.Amount, b.State, b.ID = "k", 100, tc.seen, "S-k"
			if b.CertType == "" {
				b.CertType = protocol.CertSSCard
			}
			if b.Mode == "" {
				b.Mode = agent.ModePreferOnline
			}
			m.Add(&b)
			st := &agent.Settlement{ID: "S-k", IdempotencyKey: "k", State: tc.now, DeferredAt: time.Now(), SetlID: "SETL",
				Bill:  agent.Bill{Items: []agent.FeeItem{{Quantity: 1, UnitPrice: 100, Amount: 100}}},
				Split: agent.Split{Total: 100, SelfPay: 100, Estimate: tc.now == agent.StateDeferred},
				Error: &agent.Failure{Code: "X"}}
			err := m.Observe(st)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Observe: %v; want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestSettleAnswersCreateTheSettlementOnce(t *testing.T) {
	m := New(agent.DefaultOfflinePolicy())
	b := &Bill{Key: "k", Amount: 100}
	m.Add(b)
	v := api.SettlementView{ID: "S-k", State: agent.StateSettled, SetlID: "SETL", Split: agent.Split{Total: 100, SelfPay: 100}}
	if err := m.Settle(b, v); err == nil || !strings.Contains(err.Error(), "did not create") {
		t.Fatalf("first answer without created: %v", err)
	}
	b2 := &Bill{Key: "k2", Amount: 100}
	m.Add(b2)
	v.ID, v.Created = "S-k2", true
	if err := m.Settle(b2, v); err != nil {
		t.Fatal(err)
	}
	if err := m.Settle(b2, v); err == nil || !strings.Contains(err.Error(), "created") {
		t.Fatalf("second answer also created: %v", err)
	}
	b3 := &Bill{Key: "k3", Amount: 100}
	m.Add(b3)
	v.ID, v.Split.Fund = "S-k3", 1
	if err := m.Settle(b3, v); err == nil || !strings.Contains(err.Error(), "balance") {
		t.Fatalf("unbalanced split: %v", err)
	}
}

func TestRandomBillsAreValidRequestsForTheDataSet(t *testing.T) {
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := map[string]int{}
	for n := 1; n <= 2000; n++ {
		b := RandomBill(rng, data, n)
		req := agent.SettleRequest{IdempotencyKey: b.Key, Identity: b.Body.Identity, Operator: b.Body.Operator, Bill: b.Body.Bill, Mode: b.Mode}
		if err := req.Validate(); err != nil {
			t.Fatalf("bill %d: %v", n, err)
		}
		if b.Amount != b.Body.Bill.Total() || b.CertType != b.Body.Identity.CertType {
			t.Fatalf("bill %d: the model's amount or identity is not the request's", n)
		}
		switch {
		case b.Declines:
			kinds["refused"]++
		case b.Amount > agent.DefaultOfflinePolicy().MaxBill:
			kinds["over the offline limit"]++
		}
		kinds[b.Mode]++
		kinds[b.CertType]++
	}
	for _, k := range []string{"refused", "over the offline limit", agent.ModePreferOnline, agent.ModeRequireOnline, agent.ModeForceOffline, protocol.CertIDNo, protocol.CertSSCard} {
		if kinds[k] == 0 {
			t.Errorf("no bill of kind %q in 2000: %v", k, kinds)
		}
	}
}
