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
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// world is a small finished run: one bill settled (its part paid from
// the bank card on the channel), one refunded (its part returned by a
// cancel), one voided, and both ledgers that match.
type world struct {
	m          *Model
	records    []*agent.Settlement
	start, end Ledgers
}

func newWorld() *world {
	w := &world{m: New(agent.DefaultOfflinePolicy())}
	add := func(key string, state agent.State, amount money.Fen) *agent.Settlement {
		b := &Bill{Key: key, Persona: "p", CertType: protocol.CertSSCard, Amount: amount, Mode: agent.ModePreferOnline, ID: "S-" + key, State: state}
		w.m.Add(b)
		st := &agent.Settlement{
			ID: b.ID, IdempotencyKey: key, State: state,
			Bill:   agent.Bill{Items: []agent.FeeItem{{Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(amount), Amount: amount}}},
			Msgids: map[string]string{agent.StepSettle: "M-" + key},
		}
		st.Personal.PsnNo = "PSN1"
		w.records = append(w.records, st)
		return st
	}
	bank := &agent.PaySource{Kind: agent.SourceBankCard, Masked: "6227 **** 5678"}
	settled := add("a", agent.StateSettled, 10000)
	settled.Split = agent.InsuranceSplit{Total: 10000, Fund: 6000, Account: 1000, Cash: 3000}
	settled.SetlID = "SETL-a"
	settled.Pay = agent.PaymentLeg{Status: agent.PayPaid, Amount: 3000, Source: bank,
		Orders: []agent.PayOrderRecord{{Kind: agent.OrderPay, OrderID: "O-a", Amount: 3000, Source: agent.SourceBankCard, Status: agent.OrderSucceeded}}}
	refunded := add("b", agent.StateRefunded, 5000)
	w.m.Bill("b").RefundAsked = true
	refunded.Split = agent.InsuranceSplit{Total: 5000, Fund: 2500, Cash: 2500}
	refunded.SetlID, refunded.Msgids[agent.StepCancel] = "SETL-b", "C-b"
	refunded.Refund = &agent.Refund{State: agent.StateRefunded, Split: agent.InsuranceSplit{Total: -5000, Fund: -2500, Cash: -2500}}
	refunded.Pay = agent.PaymentLeg{Status: agent.PayReturned, Amount: 2500, Source: bank,
		Orders: []agent.PayOrderRecord{
			{Kind: agent.OrderPay, OrderID: "O-b", Amount: 2500, Source: agent.SourceBankCard, Status: agent.OrderSucceeded},
			{Kind: agent.OrderCancel, OrderID: "O-b2", Amount: 2500, Source: agent.SourceBankCard, Status: agent.OrderSucceeded},
		}}
	add("c", agent.StateVoided, 3000).DeferredAt = time.Now()
	w.m.Bill("c").Voided = true

	d := func(f money.Fen) money.Decimal { return money.Decimal(f) }
	w.end.Insurance.Settlements = []sandbox.LedgerSettlement{
		{SetlID: "SETL-a", Msgid: "M-a", ChrgBchno: "S-a", PsnNo: "PSN1", MedfeeSumamt: d(10000), FundPaySumamt: d(6000), AcctPay: d(1000), PsnCashPay: d(3000), Status: agent.PayPaid},
		{SetlID: "SETL-b", Msgid: "M-b", ChrgBchno: "S-b", PsnNo: "PSN1", MedfeeSumamt: d(5000), FundPaySumamt: d(2500), PsnCashPay: d(2500), Status: agent.PayPaid, Cancelled: true, CancelMsgid: "C-b"},
	}
	w.start.Insurance.People = []sandbox.LedgerPerson{{Key: "p", PsnNo: "PSN1", AccountBalance: d(1500), BankBalance: d(50000), Years: map[string]sandbox.LedgerUsage{"2025": {FundPaid: d(100)}}}}
	w.end.Insurance.People = []sandbox.LedgerPerson{{Key: "p", PsnNo: "PSN1", AccountBalance: d(500), BankBalance: d(50000), Years: map[string]sandbox.LedgerUsage{"2025": {FundPaid: d(6100)}}}}
	w.start.Payment.Sources = []paychannel.LedgerSource{{Agreement: "AG1", Kind: agent.SourceBankCard, Token: "T1", Masked: bank.Masked, Balance: 300000}}
	w.end.Payment.Sources = []paychannel.LedgerSource{{Agreement: "AG1", Kind: agent.SourceBankCard, Token: "T1", Masked: bank.Masked, Balance: 297000}}
	w.end.Payment.Orders = []paychannel.LedgerOrder{
		{OrderID: "O-a", TxnType: acp.TxnConsume, Code: "00", QueryID: "Q-a", Amount: 3000, Token: "T1"},
		{OrderID: "O-b", TxnType: acp.TxnConsume, Code: "00", QueryID: "Q-b", Amount: 2500, Token: "T1", Cancelled: true},
		{OrderID: "O-b2", TxnType: acp.TxnCancel, Code: "00", QueryID: "Q-b2", Amount: 2500, Token: "T1", OrigQryID: "Q-b"},
	}
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
			dup := w.end.Insurance.Settlements[0]
			dup.SetlID, dup.Msgid = "SETL-a2", "M-a2"
			w.end.Insurance.Settlements = append(w.end.Insurance.Settlements, dup)
		}, "2 active"},
		{"a fen more for the fund", func(w *world) { w.end.Insurance.Settlements[0].FundPaySumamt++ }, "platform booked"},
		{"booked under another msgid", func(w *world) { w.end.Insurance.Settlements[0].Msgid = "M-other" }, "msgid M-other"},
		{"a settlement the agent never recorded", func(w *world) {
			w.end.Insurance.Settlements = append(w.end.Insurance.Settlements, sandbox.LedgerSettlement{SetlID: "X", ChrgBchno: "S-nobody"})
		}, "no record"},
		{"a refund the platform never booked", func(w *world) { w.end.Insurance.Settlements[1].Cancelled = false }, "refunded"},
		{"a voided bill booked after all", func(w *world) {
			w.end.Insurance.Settlements = append(w.end.Insurance.Settlements, sandbox.LedgerSettlement{SetlID: "SETL-c", Msgid: "M-c", ChrgBchno: "S-c"})
		}, "want not booked"},
		{"a reversal the agent never asked for", func(w *world) {
			w.end.Insurance.Settlements = append(w.end.Insurance.Settlements, sandbox.LedgerSettlement{SetlID: "SETL-a0", Msgid: "M-a0", ChrgBchno: "S-a", Reversed: true})
		}, "never gave up"},
		{"a bank balance a fen short", func(w *world) { w.end.Insurance.People[0].AccountBalance-- }, "account holds"},
		{"the fund's consumption off", func(w *world) { w.end.Insurance.People[0].Years["2025"] = sandbox.LedgerUsage{FundPaid: 7000} }, "fund paid"},
		{"a bill left pending", func(w *world) { w.records[0].State = agent.StateInDoubt }, "still in_doubt"},
		{"a bill left between the legs", func(w *world) { w.records[0].State = agent.StatePaying }, "still paying"},
		{"a bank balance moved by the platform", func(w *world) { w.end.Insurance.People[0].BankBalance-- }, "only the payment channel"},
		{"a paid part the channel never took", func(w *world) { w.end.Payment.Orders = w.end.Payment.Orders[1:] }, "booked nothing"},
		{"a part taken twice", func(w *world) {
			w.end.Payment.Orders = append(w.end.Payment.Orders, paychannel.LedgerOrder{OrderID: "O-a9", TxnType: acp.TxnConsume, QueryID: "Q-a9", Amount: 3000, Token: "T1"})
			w.end.Payment.Sources[0].Balance -= 3000
		}, "no journal record names"},
		{"a fen more taken", func(w *world) {
			w.end.Payment.Orders[0].Amount++
			w.end.Payment.Sources[0].Balance--
		}, "the channel booked 30.01"},
		{"a pending part taken after all", func(w *world) {
			w.records[0].Pay.Status, w.records[0].Pay.Orders[0].Status = agent.PayPending, agent.OrderRefused
		}, "the channel booked 1 payments"},
		{"a refunded part never returned", func(w *world) {
			w.end.Payment.Orders = w.end.Payment.Orders[:2]
			w.end.Payment.Orders[1].Cancelled = false
			w.end.Payment.Sources[0].Balance -= 2500
		}, "booked nothing under it"},
		{"a source balance off", func(w *world) { w.end.Payment.Sources[0].Balance++ }, "should hold"},
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
				Bill:  agent.Bill{Items: []agent.FeeItem{{Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(100), Amount: 100}}},
				Split: agent.InsuranceSplit{Total: 100, Cash: 100, Estimate: tc.now == agent.StateDeferred},
				Pay:   agent.PaymentLeg{Status: agent.PayPending, Amount: 100},
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
	v := api.SettlementView{ID: "S-k", State: agent.StateSettled, SetlID: "SETL", Split: agent.InsuranceSplit{Total: 100, Cash: 100}}
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
