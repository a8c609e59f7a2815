package stacktest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// cardBody is a bill for persona identified by the social-security card
// (as a HIS that read the card itself sends it).
func cardBody(t *testing.T, s *stacktest.Stack, persona string, fen int64) api.SettleBody {
	t.Helper()
	p, ok := s.Personas.ByKey(persona)
	if !ok || p.Card == nil {
		t.Fatalf("persona %s has no card", persona)
	}
	b := withAmount(body(t, s, persona, 0), fen)
	b.Identity = agent.IdentityInput{CertType: protocol.CertSSCard, CertNo: p.Card.CardNo, CardSN: p.Card.CardSn, IDNo: p.Certno, Name: p.Name}
	return b
}

func TestOutageDefersWithinLimitsThenDrainsAndReconcilesClean(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Proxy: true})
	ctx := context.Background()
	if _, err := s.Service.FetchPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Proxy.Refuse(); err != nil { // the platform goes away
		t.Fatal(err)
	}
	a, err := s.API.Settle(ctx, "out-1", cardBody(t, s, "bank-card", 8000))
	if err != nil || a.State != agent.StateDeferred || !a.Split.Estimate || !a.Split.Balanced() {
		t.Fatalf("first bill: %v %s %+v", err, a.State, a.Split)
	}
	b, err := s.API.Settle(ctx, "out-2", cardBody(t, s, "acct-first", 12000))
	if err != nil || b.State != agent.StateDeferred {
		t.Fatalf("second bill: %v %s", err, b.State)
	}
	receipt, err := s.API.ReceiptText(ctx, a.ID)
	if err != nil || !strings.Contains(receipt, "PROVISIONAL") || !strings.Contains(receipt, "ESTIMATE") {
		t.Fatalf("provisional receipt: %v\n%s", err, receipt)
	}
	big, err := s.API.Settle(ctx, "out-3", cardBody(t, s, "deductible-met", 60000))
	if err != nil || big.State != agent.StateFailed || big.Error == nil || !strings.Contains(big.Error.Message, agent.LimitBill) {
		t.Fatalf("a 600 CNY bill offline: %v %s %+v; want refused naming max_bill", err, big.State, big.Error)
	}
	typed, err := s.API.Settle(ctx, "out-4", withAmount(body(t, s, "resident-390", 0), 1000))
	if err != nil || typed.State != agent.StateFailed || !strings.Contains(typed.Error.Message, agent.LimitIdentity) {
		t.Fatalf("an ID number offline: %v %s %+v; want refused naming the identity limit", err, typed.State, typed.Error)
	}
	if bl, _ := s.Service.Backlog(ctx); bl.Count != 2 || bl.Amount != money.Fen(20000) {
		t.Fatalf("backlog %+v; want the two deferred bills", bl)
	}
	assertLedgerSettlements(t, s, 0)

	if err := s.Proxy.Heal(); err != nil { // the platform is back
		t.Fatal(err)
	}
	if left := s.Drain(t, 30e9); len(left) != 0 {
		t.Fatalf("%d still pending after the platform came back", len(left))
	}
	for _, id := range []string{a.ID, b.ID} {
		v, err := s.API.Get(ctx, id, false)
		if err != nil || v.State != agent.StateSettled || v.Split.Estimate || !v.Split.Balanced() {
			t.Fatalf("%s after the drain: %v %s %+v", id, err, v.State, v.Split)
		}
	}
	assertLedgerSettlements(t, s, 2)
	rep, err := s.Service.Reconcile(ctx, s.Clock().Now())
	if err != nil || !rep.Balanced {
		t.Fatalf("reconcile: %v %+v", err, rep)
	}
}

func TestReconciliationListsADifferenceWithItsRemedy(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{RetryWindow: 300 * time.Millisecond})
	ctx := context.Background()
	v, err := s.API.Settle(ctx, "r-1", withAmount(body(t, s, "bank-card", 0), 5000))
	if err != nil || v.State != agent.StateSettled {
		t.Fatal(err, v.State)
	}
	// The platform books a settlement this terminal never recorded: the
	// answer to a second bill is lost and the journal is told nothing.
	s.Faults.DropAnswers(protocol.Settle.Infno, 100)
	lost, _ := s.API.Settle(ctx, "r-2", withAmount(body(t, s, "acct-first", 0), 3000))
	if lost.State != agent.StateInDoubt {
		t.Fatalf("state %s; want in doubt", lost.State)
	}
	rep, err := s.Service.Reconcile(ctx, s.Clock().Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Balanced || len(rep.Diffs) != 1 || rep.Diffs[0].Kind != protocol.DiffMissingLocal || rep.Diffs[0].SettlementID != lost.ID || !strings.Contains(rep.Diffs[0].Remedy, "in doubt") {
		t.Fatalf("report %+v", rep)
	}
}
