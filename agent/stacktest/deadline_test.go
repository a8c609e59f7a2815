package stacktest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The platform books 2207 and answers only after the step's deadline:
// the bill must be in doubt (resent under its msgid, or reversed), never
// deferred or failed as if nothing had been booked.
func TestAStepDeadlineDuringTheSettlementRequestLeavesItInDoubt(t *testing.T) {
	// The deadline must fall while 2207 is held, not before: the steps
	// before it take a few milliseconds, or a second on a loaded machine.
	s := stacktest.Start(t, stacktest.Options{StepTimeout: 3 * time.Second})
	release := make(chan struct{})
	defer close(release)
	s.Faults.HoldAnswers(protocol.Settle.Infno, release)
	ctx := context.Background()
	// Signed in and policy fetched first, so that the step's deadline is
	// spent on the bill alone.
	if _, err := s.Service.FetchPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Personas.ByKey("bank-card")
	req := agent.SettleRequest{IdempotencyKey: "k1",
		Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno},
		Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: "MZ1", DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "110200001", Class: "01", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(3000), Amount: 3000}}},
	}
	st, _, err := s.Service.Settle(ctx, req)
	if err != nil || st.State != agent.StateInDoubt {
		t.Fatalf("Settle = %v, %s; want in doubt: the request reached the platform", err, st.State)
	}
	if n := s.Faults.Seen(protocol.Settle.Infno); n == 0 {
		t.Fatal("2207 never reached the platform")
	}
	assertLedgerSettlements(t, s, 1)
	got, _ := s.Journal.Get(ctx, st.ID)
	if got.State == agent.StateDeferred || got.State == agent.StateFailed {
		t.Errorf("2207 reached the platform but the bill is %s (nothing booked / voidable)", got.State)
	}
}

func TestADamagedRecordIsNotAnsweredNothingAccepted(t *testing.T) {
	j := journaltest.MustOpen(t)
	p := agenttest.NewInsurance()
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: j.Clock})
	req := agent.SettleRequest{IdempotencyKey: "k1",
		Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: "11010519491231002X"},
		Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk},
		Bill:     agent.Bill{VisitNo: "MZ1", DeptCode: "A", DoctorID: "D", Items: []agent.FeeItem{{Code: agenttest.CodeClassA, Class: "01", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(3000), Amount: 3000}}},
	}
	st, _, err := svc.Settle(context.Background(), req)
	if err != nil || st.State != agent.StateSettled {
		t.Fatal(st, err)
	}
	j.MustClose()
	db, err := bolt.Open(j.Path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error {
		b, key := journaltest.RawRecord(tx, st.ID)
		// A byte flipped in the middle of the stored (compressed) record.
		v := append([]byte(nil), b.Get(key)...)
		v[len(v)/2] ^= 0xff
		return b.Put(key, v)
	})
	db.Close()
	j.MustReopen()
	svc = agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: j.Clock})
	_, _, err = svc.Settle(context.Background(), req)
	if errors.Is(err, agent.ErrNotAccepted) {
		t.Errorf("a key whose settled record is damaged is answered 'nothing was accepted'")
	}
}
