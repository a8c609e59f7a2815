package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
)

func newService(t *testing.T) (*agent.Service, *agenttest.Journal, *agenttest.Insurance) {
	t.Helper()
	c := clock.NewFake(agenttest.Epoch)
	j := agenttest.NewJournal(c)
	ins := agenttest.NewInsurance()
	return agent.NewService(agent.ServiceConfig{Journal: j, Insurance: ins, Clock: c}), j, ins
}

func bill(amounts ...money.Fen) agent.Bill {
	b := agent.Bill{VisitNo: "MZ001", DeptCode: "A03", DoctorID: "D01"}
	for _, a := range amounts {
		b.Items = append(b.Items, agent.FeeItem{Code: "X01", Class: "01", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(a), Amount: a})
	}
	return b
}

func request(key string, b agent.Bill) agent.SettleRequest {
	return agent.SettleRequest{
		IdempotencyKey: key,
		Identity:       agent.IdentityInput{CertType: agent.CertIDNo, CertNo: "11010519491231002X"},
		Operator:       agent.Operator{ID: "W01", Type: agent.OpterClerk},
		Bill:           b,
	}
}

func TestSettleWritesTheJournalBeforeAndAfterTheSettlementRequest(t *testing.T) {
	svc, j, ins := newService(t)
	var writesWhenSent int
	ins.Before("Settle", func(context.Context, string) error { writesWhenSent = j.Writes; return nil })
	st, created, err := svc.Settle(context.Background(), request("k1", bill(3379)))
	if err != nil || !created {
		t.Fatalf("Settle = %v, created %v", err, created)
	}
	if st.State != agent.StateSettled || !st.Split.Balanced() || st.Split.Total != 3379 || st.Pay.Status != agent.PayNone {
		t.Fatalf("settlement %+v", st)
	}
	if writesWhenSent != 2 {
		t.Fatalf("journal writes before 2207 was sent = %d; want 2 (accepted, settling)", writesWhenSent)
	}
	if j.Writes != 3 {
		t.Fatalf("journal writes = %d; want 3 (the account paid all: booked and settled in one)", j.Writes)
	}
}

func TestSameKeyTwiceIsOneSettlement(t *testing.T) {
	svc, _, ins := newService(t)
	a, created1, err1 := svc.Settle(context.Background(), request("same", bill(1000)))
	b, created2, err2 := svc.Settle(context.Background(), request("same", bill(1000)))
	if err1 != nil || err2 != nil || !created1 || created2 || a.ID != b.ID {
		t.Fatalf("first %v %v %v, second %v %v %v", a.ID, created1, err1, b.ID, created2, err2)
	}
	if n := ins.Count("Settle"); n != 1 {
		t.Fatalf("2207 sent %d times; want 1", n)
	}
}

func TestSameKeyForAnotherBillIsRefused(t *testing.T) {
	svc, _, _ := newService(t)
	if _, _, err := svc.Settle(context.Background(), request("k", bill(1000))); err != nil {
		t.Fatal(err)
	}
	_, _, err := svc.Settle(context.Background(), request("k", bill(2000)))
	if !errors.Is(err, agent.ErrIdempotencyConflict) {
		t.Fatalf("Settle with a reused key = %v; want ErrIdempotencyConflict", err)
	}
}

func TestLostSettlementAnswerIsInDoubtAndResentUnderTheSameMsgid(t *testing.T) {
	svc, _, ins := newService(t)
	lose := true
	ins.Before("Settle", func(context.Context, string) error {
		if lose {
			return agent.ErrInDoubt
		}
		return nil
	})
	st, _, err := svc.Settle(context.Background(), request("k", bill(1000)))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != agent.StateInDoubt {
		t.Fatalf("state = %s; want in_doubt", st.State)
	}
	lose = false
	st, _, err = svc.Settle(context.Background(), request("k", bill(1000)))
	if err != nil || st.State != agent.StateSettled {
		t.Fatalf("resumed: %v %s", err, st.State)
	}
	ids := ins.Msgids("Settle")
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("2207 msgids %v; want the same msgid twice", ids)
	}
	if n := ins.Count("Identify"); n != 1 {
		t.Fatalf("resume repeated the identification (%d); settling must resume at 2207", n)
	}
}

func TestUnreachableBeforeSettlingFailsWithNothingBooked(t *testing.T) {
	svc, _, ins := newService(t)
	ins.Before("Identify", func(context.Context, string) error { return agent.ErrUnreachable })
	req := request("k", bill(1000))
	req.Mode = agent.ModeRequireOnline
	st, _, err := svc.Settle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != agent.StateFailed || st.Error.Code != agent.FailUnreachable {
		t.Fatalf("state %s error %+v", st.State, st.Error)
	}
	if ins.Count("Settle") != 0 {
		t.Fatal("2207 sent although identification failed")
	}
}

func TestDeclinedByThePlatformIsFinal(t *testing.T) {
	svc, _, ins := newService(t)
	ins.Before("Identify", func(context.Context, string) error {
		return &agent.Refusal{Op: "1101", Kind: agent.RefusedProcessed, Message: "人员信息不存在"}
	})
	st, _, _ := svc.Settle(context.Background(), request("k", bill(1000)))
	if st.State != agent.StateDeclined || st.Error.Code != agent.FailDeclined || st.Error.Message != "人员信息不存在" {
		t.Fatalf("state %s error %+v", st.State, st.Error)
	}
	again, _, _ := svc.Settle(context.Background(), request("k", bill(1000)))
	if again.State != agent.StateDeclined || ins.Count("Identify") != 1 {
		t.Fatalf("a declined settlement was retried")
	}
}

// unbalanced answers the settlement with the Shanghai article's receipt:
// 33.79 = 27.28 + 5.97 leaves 0.54 unaccounted.
type unbalanced struct{ *agenttest.Insurance }

func (u unbalanced) Settle(_ context.Context, r agent.SplitRequest) (agent.Booking, error) {
	return agent.Booking{SetlID: "S1", Split: agent.InsuranceSplit{Total: 3379, Fund: 2728, Cash: 597}}, nil
}

func TestAnswerThatDoesNotBalanceIsNotAReceipt(t *testing.T) {
	c := clock.NewFake(agenttest.Epoch)
	svc := agent.NewService(agent.ServiceConfig{Journal: agenttest.NewJournal(c), Insurance: unbalanced{agenttest.NewInsurance()}, Clock: c})
	st, _, _ := svc.Settle(context.Background(), request("k", bill(3379)))
	if st.State != agent.StateInDoubt {
		t.Fatalf("state = %s; an unbalanced answer must not settle", st.State)
	}
	if _, err := svc.Receipt(st); err == nil {
		t.Fatal("receipt for an unbalanced settlement")
	}
}

func TestFullDiskRefusesBeforeAnythingIsSent(t *testing.T) {
	svc, j, ins := newService(t)
	j.FailWrites = errors.New("no space left on device")
	_, _, err := svc.Settle(context.Background(), request("k", bill(1000)))
	if !errors.Is(err, agent.ErrJournal) {
		t.Fatalf("Settle = %v; want a journal error", err)
	}
	if len(ins.Calls()) != 0 {
		t.Fatal("the platform was called although nothing was journaled")
	}
}

func TestInvalidBillsAreRefusedWithTheReason(t *testing.T) {
	svc, _, _ := newService(t)
	bad := bill(1000)
	bad.Items[0].Amount = 999
	both := bill(1000)
	both.Items[0].UnitPriceFen = 1000
	cases := map[string]agent.SettleRequest{
		"amount not quantity × price": request("k", bad),
		"both price forms":            request("k", both),
		"no items":                    request("k", agent.Bill{VisitNo: "v", DeptCode: "d", DoctorID: "x"}),
		"bad ID check digit": func() agent.SettleRequest {
			r := request("k", bill(1))
			r.Identity.CertNo = "110105194912310021"
			return r
		}(),
		"empty key": request("", bill(1)),
	}
	for name, req := range cases {
		if _, _, err := svc.Settle(context.Background(), req); !errors.Is(err, agent.ErrInvalid) {
			t.Errorf("%s: Settle = %v; want ErrInvalid", name, err)
		}
	}
}
