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
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// fixture is a run of three bills: one settled (after an attempt that was
// reversed) with its part paid by the second order sent (the first was
// refused: the card was short), one settled with its part pending, one
// declined; both ledgers agree with the agent.
type fixture struct {
	bills  []*Bill
	final  map[string]api.SettlementView
	ledger Ledgers
}

func newFixture() *fixture {
	bill := func(key string, total money.Fen) *Bill {
		b := &Bill{Key: key}
		b.Body.Bill.Items = []agent.FeeItem{{Code: "001102000010000", Quantity: money.QuantityOf(1), UnitPriceFen: total, Amount: total}}
		return b
	}
	split := agent.InsuranceSplit{Total: 12345, Fund: 6000, Account: 4000, Cash: 2245, Hospital: 100}
	paid := agent.PaymentLeg{Status: agent.PayPaid, Amount: 2245, Orders: []agent.PayOrderRecord{
		{Kind: agent.OrderPay, OrderID: "O1", Amount: 2245, Source: agent.SourceBankCard, Status: agent.OrderRefused, Reason: agent.ReasonInsufficient},
		{Kind: agent.OrderPay, OrderID: "O2", Amount: 2245, Source: agent.SourceCreditLine, Status: agent.OrderSucceeded, QueryID: "Q2"},
	}}
	settled := api.SettlementView{ID: "S1", State: agent.StateSettled, SetlID: "P2", Split: split, Pay: paid,
		Events: []agent.Event{{State: agent.StateInDoubt}, {State: agent.StatePaying}, {State: agent.StateSettled}}}
	pendingSplit := agent.InsuranceSplit{Total: 800, Fund: 500, Cash: 300}
	pending := api.SettlementView{ID: "S3", State: agent.StateSettled, SetlID: "P5", Split: pendingSplit,
		Pay: agent.PaymentLeg{Status: agent.PayPending, Amount: 300, Reason: agent.ReasonNoAgreement}}
	declined := api.SettlementView{ID: "S2", State: agent.StateDeclined}
	entry := func(setl, chrg string, s agent.InsuranceSplit) sandbox.LedgerSettlement {
		return sandbox.LedgerSettlement{SetlID: setl, ChrgBchno: chrg, Institution: Institution, DevNo: "T1", Status: agent.PayPaid,
			MedfeeSumamt: money.Decimal(s.Total), FundPaySumamt: money.Decimal(s.Fund), AcctPay: money.Decimal(s.Account), PsnCashPay: money.Decimal(s.Cash)}
	}
	reversed := entry("P1", "S1", split)
	reversed.Reversed = true
	b1, b2, b3 := bill("his-1", 12345), bill("his-2", 800), bill("his-3", 800)
	told := settled
	told.Pay.Orders = nil // answers carry no orders
	b1.Answers = []api.SettlementView{{ID: "S1", State: agent.StateInDoubt}, {ID: "S1", State: agent.StatePaying, SetlID: "P2", Split: split}, told}
	b2.Answers = []api.SettlementView{declined}
	b3.Answers = []api.SettlementView{pending}
	return &fixture{
		bills: []*Bill{b1, b2, b3},
		final: map[string]api.SettlementView{"his-1": settled, "his-2": declined, "his-3": pending},
		ledger: Ledgers{
			Insurance: sandbox.Ledger{Settlements: []sandbox.LedgerSettlement{reversed, entry("P2", "S1", split), entry("P5", "S3", pendingSplit)}},
			Payment: paychannel.Ledger{Orders: []paychannel.LedgerOrder{
				{MerID: paychannel.MerchantID, OrderID: "O1", TxnType: acp.TxnConsume, Code: "51"},
				{MerID: paychannel.MerchantID, OrderID: "O2", TxnType: acp.TxnConsume, Code: "00", QueryID: "Q2", Amount: 2245},
			}},
		},
	}
}

func TestCheckFindsEveryWayTheLedgerCanDisagreeWithTheAnswers(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *fixture)
		want   string // in an error; empty: no error
	}{
		{"agreement, a reversed attempt and a refused order not counted", func(*fixture) {}, ""},
		{"a duplicate charge", func(f *fixture) {
			dup := f.ledger.Insurance.Settlements[1]
			dup.SetlID = "P3"
			f.ledger.Insurance.Settlements = append(f.ledger.Insurance.Settlements, dup)
		}, "2 standing settlements"},
		{"a settled bill the platform never booked", func(f *fixture) {
			f.ledger.Insurance.Settlements = f.ledger.Insurance.Settlements[:1]
		}, "0 standing settlements"},
		{"a stray charge for no bill", func(f *fixture) {
			stray := f.ledger.Insurance.Settlements[1]
			stray.SetlID, stray.ChrgBchno = "P9", "S9"
			f.ledger.Insurance.Settlements = append(f.ledger.Insurance.Settlements, stray)
		}, "stray charge"},
		{"the fund one fen off", func(f *fixture) {
			f.ledger.Insurance.Settlements[1].FundPaySumamt++
			f.ledger.Insurance.Settlements[1].PsnCashPay--
		}, "fund is 60.00 at the agent and 60.01"},
		{"the cash one fen off", func(f *fixture) {
			f.ledger.Insurance.Settlements[1].PsnCashPay--
		}, "cash is 22.45 at the agent and 22.44"},
		{"a declined bill charged", func(f *fixture) {
			charged := f.ledger.Insurance.Settlements[1]
			charged.SetlID, charged.ChrgBchno = "P4", "S2"
			f.ledger.Insurance.Settlements = append(f.ledger.Insurance.Settlements, charged)
		}, "is declined, but the platform holds"},
		{"told settled, now failed", func(f *fixture) {
			v := f.final["his-1"]
			v.State = agent.StateFailed
			f.final["his-1"] = v
		}, "was told settled"},
		{"told settled with another split", func(f *fixture) {
			f.bills[0].Answers[2].Split.Fund--
			f.bills[0].Answers[2].Split.Cash++
		}, "was told settled"},
		{"told the part is being paid, with another split", func(f *fixture) {
			f.bills[0].Answers[1].Split.Hospital++
			f.bills[0].Answers[1].Split.Cash--
		}, "was told paying"},
		{"told paid, now pending", func(f *fixture) {
			v := f.final["his-1"]
			v.Pay.Status = agent.PayPending
			f.final["his-1"] = v
		}, "part of 22.45 is paid, the agent now shows pending"},
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
		{"still paying after the drain", func(f *fixture) {
			v := f.final["his-3"]
			v.State = agent.StatePaying
			f.final["his-3"] = v
			f.bills[2].Answers = nil
		}, "still paying"},
		{"a bill the agent lost", func(f *fixture) {
			delete(f.final, "his-2")
		}, "shows no settlement"},
		{"booked for another terminal", func(f *fixture) {
			f.ledger.Insurance.Settlements[1].DevNo = "T2"
		}, "booked for"},
		{"a paid part the channel never booked", func(f *fixture) {
			f.ledger.Payment.Orders = f.ledger.Payment.Orders[:1]
		}, "the channel booked 0 of its orders"},
		{"a paid part booked twice", func(f *fixture) {
			f.ledger.Payment.Orders[0] = paychannel.LedgerOrder{MerID: paychannel.MerchantID, OrderID: "O1", TxnType: acp.TxnConsume, Code: "00", QueryID: "Q1", Amount: 2245}
		}, "the channel booked 2 of its orders"},
		{"a paid part booked for another amount", func(f *fixture) {
			f.ledger.Payment.Orders[1].Amount = 2244
		}, "paid amount is 22.45 at the agent and 22.44 at the payment channel"},
		{"a part paid by another order than the one recorded", func(f *fixture) {
			f.ledger.Payment.Orders[1].QueryID = "Q9"
		}, "query id is Q2 at the agent and Q9"},
		{"a pending part the channel took", func(f *fixture) {
			v := f.final["his-3"]
			v.Pay.Orders = []agent.PayOrderRecord{{Kind: agent.OrderPay, OrderID: "O3", Amount: 300, Status: agent.OrderUnknown}}
			f.final["his-3"] = v
			f.ledger.Payment.Orders = append(f.ledger.Payment.Orders, paychannel.LedgerOrder{MerID: paychannel.MerchantID, OrderID: "O3",
				TxnType: acp.TxnConsume, Code: "00", QueryID: "Q3", Amount: 300})
		}, "shows its part pending, but the payment channel booked order O3"},
		{"a stray debit for no bill", func(f *fixture) {
			f.ledger.Payment.Orders = append(f.ledger.Payment.Orders, paychannel.LedgerOrder{MerID: paychannel.MerchantID, OrderID: "O9",
				TxnType: acp.TxnConsume, Code: "00", QueryID: "Q9", Amount: 500})
		}, "stray debit"},
		{"a payment given back", func(f *fixture) {
			f.ledger.Payment.Orders[1].Refunded = 2245
		}, "was given back"},
		{"a refund nobody asked for", func(f *fixture) {
			f.ledger.Payment.Orders = append(f.ledger.Payment.Orders, paychannel.LedgerOrder{MerID: paychannel.MerchantID, OrderID: "R1",
				TxnType: acp.TxnRefund, Code: "00", QueryID: "Q8", Amount: 2245, OrigQryID: "Q2"})
		}, "pays and refunds nothing else"},
		{"another merchant's order", func(f *fixture) {
			f.ledger.Payment.Orders[0].MerID = "898440148169999"
		}, "of merchant 898440148169999"},
		{"one order for two bills", func(f *fixture) {
			v := f.final["his-3"]
			v.Pay.Orders = []agent.PayOrderRecord{{Kind: agent.OrderPay, OrderID: "O1", Amount: 300, Status: agent.OrderRefused}}
			f.final["his-3"] = v
		}, "payment order O1 is also bill his-1's"},
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
	want := Report{Bills: 3, States: map[agent.State]int{agent.StateSettled: 2, agent.StateDeclined: 1},
		Payments: map[string]int{agent.PayPaid: 1, agent.PayPending: 1}, InDoubtResolved: 1,
		ActiveLedger: 2, ReversedLedger: 1, AnsweredSettled: 2, AnsweredDeclined: 1, ChannelBooked: 1, ChannelRefused: 1, MultiOrder: 1}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report %+v; want %+v", rep, want)
	}
}
