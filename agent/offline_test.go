package agent_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
)

func TestOfflineLimitsNameTheLimitThatFails(t *testing.T) {
	now := agenttest.Epoch
	p := agent.DefaultOfflinePolicy()
	card := func(amount money.Fen, patient string) *agent.Settlement {
		return &agent.Settlement{Bill: bill(amount), PatientRef: patient, Offline: agent.TrustCard}
	}
	full := agent.Backlog{Count: 1, Amount: money.CNY(100), Oldest: now.Add(-time.Hour), PerPatient: map[string]agent.PatientTotal{"p1": {Count: 3, Amount: money.CNY(300)}}}
	cases := []struct {
		name   string
		policy func(*agent.OfflinePolicy)
		b      agent.Backlog
		s      *agent.Settlement
		want   string
	}{
		{"within every limit", nil, agent.Backlog{}, card(money.CNY(500), "p1"), ""},
		{"disabled", func(p *agent.OfflinePolicy) { p.Enabled = false }, agent.Backlog{}, card(100, "p1"), agent.LimitDisabled},
		{"ID number not trusted", nil, agent.Backlog{}, &agent.Settlement{Bill: bill(100), Offline: agent.TrustIDNumber}, agent.LimitIdentity},
		{"opaque code not trusted", nil, agent.Backlog{}, &agent.Settlement{Bill: bill(100), Offline: agent.TrustQROpaque}, agent.LimitIdentity},
		{"one fen over the bill limit", nil, agent.Backlog{}, card(money.CNY(500)+1, "p1"), agent.LimitBill},
		{"fourth bill of a patient", nil, full, card(100, "p1"), agent.LimitPatientCount},
		{"patient total", func(p *agent.OfflinePolicy) { p.MaxPerPatientCount = 9 }, agent.Backlog{PerPatient: map[string]agent.PatientTotal{"p1": {Count: 1, Amount: money.CNY(600)}}}, card(money.CNY(401), "p1"), agent.LimitPatientAmount},
		{"terminal total", nil, agent.Backlog{Amount: money.CNY(19800)}, card(money.CNY(201), "p2"), agent.LimitTerminal},
		{"record count", func(p *agent.OfflinePolicy) { p.MaxRecords = 1 }, agent.Backlog{Count: 1}, card(100, "p2"), agent.LimitRecords},
		{"oldest too old", nil, agent.Backlog{Count: 1, Oldest: now.Add(-73 * time.Hour)}, card(100, "p2"), agent.LimitAge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol := p
			if c.policy != nil {
				c.policy(&pol)
			}
			if c.b.PerPatient == nil {
				c.b.PerPatient = map[string]agent.PatientTotal{}
			}
			err := pol.Check(c.b, c.s, now)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || err.Limit != c.want || !errors.Is(err, agent.ErrOfflineLimit)):
				t.Fatalf("Check = %v; want limit %s", err, c.want)
			}
		})
	}
}

func TestEstimateBalancesAndIsMarked(t *testing.T) {
	pol := agent.Policy{ClassBSelfPayPct: 10, Insurance: []agent.InsurancePolicy{{Insutype: "310", RatioPct: 70}}}
	b := agent.Bill{Items: []agent.FeeItem{
		{Class: "01", Amount: 3333}, {Class: "02", Amount: 18000}, {Class: "03", Amount: 4500},
	}}
	sp := agent.Estimate(pol, "310", b)
	// eligible = 3333 + (18000 - 1800) = 19533; fund = floor(19533 × 70%) = 13673.
	if !sp.Estimate || !sp.Balanced() || sp.Total != 25833 || sp.Ownpay != 4500 || sp.Preselfpay != 1800 || sp.Fund != 13673 || sp.Cash != 12160 {
		t.Fatalf("estimate %+v", sp)
	}
}

// offlineService is a service with the default offline limits whose
// platform is down until up() is called.
func offlineService(t *testing.T) (svc *agent.Service, p *agenttest.Insurance, up func(), c *clock.Fake) {
	t.Helper()
	c = clock.NewFake(agenttest.Epoch)
	j := agenttest.NewJournal(c)
	var down atomic.Bool
	down.Store(true)
	p = agenttest.NewInsurance()
	for _, step := range []string{"Identify", "Register", "UploadFees", "PreSettle", "Settle", "Reverse", "Policy"} {
		p.Before(step, func(context.Context, string) error {
			if down.Load() {
				return agent.ErrUnreachable
			}
			return nil
		})
	}
	svc = agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: c, Offline: agent.DefaultOfflinePolicy(), InDoubtWindow: time.Minute})
	return svc, p, func() { down.Store(false) }, c
}

func cardRequest(key string, b agent.Bill) agent.SettleRequest {
	r := request(key, b)
	r.Identity = agent.IdentityInput{CertType: agent.CertSSCard, CertNo: "D19880001", CardSN: "441900D1560000050A1B2C3D00000001", IDNo: "11010519491231002X"}
	return r
}

func TestUnreachablePlatformDefersACardBillAndTheForwarderSettlesItLater(t *testing.T) {
	svc, p, up, _ := offlineService(t)
	ctx := context.Background()
	st, _, err := svc.Settle(ctx, cardRequest("k1", bill(3000)))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != agent.StateDeferred || !st.Split.Estimate || !st.Split.Balanced() || st.DeferredAt.IsZero() {
		t.Fatalf("state %s split %+v; want deferred with a balanced estimate", st.State, st.Split)
	}
	if b, _ := svc.Backlog(ctx); b.Count != 1 || b.Amount != 3000 {
		t.Fatalf("backlog %+v", b)
	}
	// Forwarding while the platform is still down keeps it deferred.
	if st, _ = svc.Forward(ctx, st.ID); st.State != agent.StateDeferred || st.Tries != 1 || st.NextTry.IsZero() {
		t.Fatalf("forward while down: %s tries %d", st.State, st.Tries)
	}
	up()
	st, err = svc.Forward(ctx, st.ID)
	if err != nil || st.State != agent.StateSettled || st.Split.Estimate {
		t.Fatalf("forward when up: %v %s %+v", err, st.State, st.Split)
	}
	if n := p.Count("Settle"); n != 1 {
		t.Fatalf("2207 sent %d times", n)
	}
	if b, _ := svc.Backlog(ctx); b.Count != 0 {
		t.Fatalf("backlog after forwarding: %+v", b)
	}
}

func TestIDNumberIsNotTrustedOfflineByDefault(t *testing.T) {
	svc, _, _, _ := offlineService(t)
	st, _, err := svc.Settle(context.Background(), request("k1", bill(3000)))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != agent.StateFailed || st.Error.Code != agent.FailOfflineLimit {
		t.Fatalf("state %s error %+v; want refused offline naming the identity limit", st.State, st.Error)
	}
}

func TestForceOfflineNeverCallsThePlatform(t *testing.T) {
	svc, p, up, _ := offlineService(t)
	up()
	req := cardRequest("k1", bill(3000))
	req.Mode = agent.ModeForceOffline
	st, _, _ := svc.Settle(context.Background(), req)
	if st.State != agent.StateDeferred || len(p.Calls()) != 0 {
		t.Fatalf("state %s, %d requests sent", st.State, len(p.Calls()))
	}
}

func TestDeclinedDeferredBillBecomesArrears(t *testing.T) {
	svc, p, up, _ := offlineService(t)
	st, _, _ := svc.Settle(context.Background(), cardRequest("k1", bill(3000)))
	up()
	p.Before("Identify", func(context.Context, string) error {
		return &agent.Refusal{Op: "1101", Kind: agent.RefusedProcessed, Message: "卡已挂失"}
	})
	st, _ = svc.Forward(context.Background(), st.ID)
	if st.State != agent.StateArrears || st.Error.Code != agent.FailDeclined || st.Error.Message != "卡已挂失" {
		t.Fatalf("state %s error %+v; want arrears", st.State, st.Error)
	}
}

func TestInDoubtPastItsWindowIsReversedThenSettledUnderANewMsgid(t *testing.T) {
	svc, p, up, c := offlineService(t)
	up()
	ctx := context.Background()
	var lost atomic.Bool
	lost.Store(true)
	p.Before("Settle", func(context.Context, string) error {
		if lost.Load() {
			return agent.ErrInDoubt
		}
		return nil
	})
	st, _, _ := svc.Settle(ctx, cardRequest("k1", bill(3000)))
	if st.State != agent.StateInDoubt {
		t.Fatalf("state %s", st.State)
	}
	first := st.Msgids[agent.StepSettle]
	st, _ = svc.Forward(ctx, st.ID) // within the window: the same msgid again
	if st.State != agent.StateInDoubt || p.Msgids("Settle")[1] != first {
		t.Fatalf("resend: %s %v", st.State, p.Msgids("Settle"))
	}
	c.Advance(2 * time.Minute)
	p.Before("Reverse", func(context.Context, string) error {
		return &agent.Refusal{Op: "2601", Kind: agent.RefusedNotFound, Message: "原交易不存在"}
	})
	st, _ = svc.Forward(ctx, st.ID)
	if st.State != agent.StateFailed || st.Error.Code != agent.FailReversed || st.Msgids[agent.StepSettle] == first || st.PriorMsgids[0] != first {
		t.Fatalf("after reversal: %s %+v msgid %s prior %v", st.State, st.Error, st.Msgids[agent.StepSettle], st.PriorMsgids)
	}
	lost.Store(false)
	st, _, _ = svc.Settle(ctx, cardRequest("k1", bill(3000)))
	if sent := p.Msgids("Settle"); st.State != agent.StateSettled || sent[len(sent)-1] == first {
		t.Fatalf("settled again: %s", st.State)
	}
}

func TestOnlyADeferredBillCanBeVoided(t *testing.T) {
	svc, _, up, _ := offlineService(t)
	ctx := context.Background()
	op := agent.Operator{ID: "W01", Type: "1"}
	d, _, _ := svc.Settle(ctx, cardRequest("k1", bill(3000)))
	if st, err := svc.Void(ctx, d.ID, op, "paid cash"); err != nil || st.State != agent.StateVoided {
		t.Fatalf("void deferred: %v", err)
	}
	up()
	s, _, _ := svc.Settle(ctx, cardRequest("k2", bill(3000)))
	if _, err := svc.Void(ctx, s.ID, op, "x"); !errors.Is(err, agent.ErrConflict) {
		t.Fatalf("void settled: %v", err)
	}
}

func TestFirstSettlementRequestThatNeverLeftIsDeferredNotInDoubt(t *testing.T) {
	svc, p, up, _ := offlineService(t)
	up()
	p.Before("Settle", func(context.Context, string) error { return agent.ErrUnreachable })
	st, _, _ := svc.Settle(context.Background(), cardRequest("k1", bill(3000)))
	if st.State != agent.StateDeferred {
		t.Fatalf("state %s; a 2207 that certainly never left is not in doubt", st.State)
	}
}

func TestBacklogKeptInMemoryMatchesTheJournal(t *testing.T) {
	svc, _, up, c := offlineService(t)
	ctx := context.Background()
	var ids []string
	for i, fen := range []money.Fen{1000, 2000, 3000, 4000} {
		r := cardRequest(fmt.Sprint("k", i), bill(fen))
		r.Identity.IDNo = []string{"11010519491231002X", "440524188001010014"}[i%2]
		st, _, _ := svc.Settle(ctx, r)
		ids = append(ids, st.ID)
		c.Advance(time.Minute)
	}
	if _, err := svc.Void(ctx, ids[1], agent.Operator{ID: "W1", Type: "1"}, "paid cash"); err != nil {
		t.Fatal(err)
	}
	up()
	if _, err := svc.Forward(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	cached, _ := svc.Backlog(ctx)
	fresh := agent.NewService(agent.ServiceConfig{Journal: svc.JournalForTest(), Insurance: agenttest.NewInsurance(), Clock: c})
	computed, _ := fresh.Backlog(ctx)
	if cached.Count != 2 || cached.Amount != 7000 || cached.Count != computed.Count || cached.Amount != computed.Amount || !cached.Oldest.Equal(computed.Oldest) || len(cached.PerPatient) != len(computed.PerPatient) {
		t.Fatalf("cached %+v, from the journal %+v", cached, computed)
	}
}

// Bills deferred at the same moment each see the others: the limits hold
// however many decide at once, though their journal writes are shared.
func TestConcurrentDeferralsNeverPassALimit(t *testing.T) {
	c := clock.NewFake(agenttest.Epoch)
	p := agenttest.NewInsurance()
	policy := agent.DefaultOfflinePolicy()
	policy.MaxRecords = 3
	svc := agent.NewService(agent.ServiceConfig{Journal: agenttest.NewJournal(c), Insurance: p, Clock: c, Offline: policy})
	const bills = 12
	states := make(chan *agent.Settlement, bills)
	var wg sync.WaitGroup
	for i := range bills {
		wg.Go(func() {
			r := cardRequest(fmt.Sprint("k", i), bill(1000))
			r.Mode = agent.ModeForceOffline
			st, _, err := svc.Settle(context.Background(), r)
			if err != nil {
				t.Error(err)
				return
			}
			states <- st
		})
	}
	wg.Wait()
	close(states)
	deferred, refused := 0, 0
	for st := range states {
		switch {
		case st.State == agent.StateDeferred:
			deferred++
		case st.State == agent.StateFailed && st.Error.Code == agent.FailOfflineLimit:
			refused++
		default:
			t.Errorf("bill %s: %s %+v", st.ID, st.State, st.Error)
		}
	}
	b, _ := svc.Backlog(context.Background())
	if deferred != 3 || refused != bills-3 || b.Count != 3 || b.Amount != 3000 {
		t.Fatalf("%d deferred, %d refused, backlog %+v; want 3 deferred (the record limit), the rest refused", deferred, refused, b)
	}
}

// A deferral the journal could not record leaves the backlog as it was:
// its place, taken while deciding, is given back.
func TestADeferralNotRecordedTakesNoPlaceInTheBacklog(t *testing.T) {
	svc, _, _, _ := offlineService(t)
	j := svc.JournalForTest().(*agenttest.Journal)
	ctx := context.Background()
	j.FailUpdates = errors.New("no space left on device")
	if _, _, err := svc.Settle(ctx, cardRequest("k1", bill(3000))); !errors.Is(err, agent.ErrNotRecorded) {
		t.Fatalf("settle with the deferral unrecorded: %v; want ErrNotRecorded", err)
	}
	if b, _ := svc.Backlog(ctx); b.Count != 0 || b.Amount != 0 || !b.Oldest.IsZero() || len(b.PerPatient) != 0 {
		t.Fatalf("backlog %+v after a deferral that was not recorded; want it empty", b)
	}
	j.FailUpdates = nil
	if st, _, err := svc.Settle(ctx, cardRequest("k2", bill(2000))); err != nil || st.State != agent.StateDeferred {
		t.Fatalf("the next bill: %v %+v", err, st)
	}
	if b, _ := svc.Backlog(ctx); b.Count != 1 || b.Amount != 2000 {
		t.Fatalf("backlog %+v; want the one bill recorded", b)
	}
}

// A bill the caller sends offline is deferred in the write that accepts
// it, and asks the platform nothing; its place in the backlog is taken in
// that write, or not at all.
func TestAForcedOfflineBillIsDeferredInTheWriteThatAcceptsIt(t *testing.T) {
	svc, p, _, _ := offlineService(t)
	j := svc.JournalForTest().(*agenttest.Journal)
	ctx := context.Background()
	forced := func(key string, fen money.Fen) agent.SettleRequest {
		r := cardRequest(key, bill(fen))
		r.Mode = agent.ModeForceOffline
		return r
	}

	j.FailWrites = errors.New("no space left on device")
	if _, _, err := svc.Settle(ctx, forced("k1", 3000)); !errors.Is(err, agent.ErrNotAccepted) {
		t.Fatalf("settle with nothing stored: %v; want ErrNotAccepted", err)
	}
	if b, _ := svc.Backlog(ctx); b.Count != 0 || b.Amount != 0 || len(b.PerPatient) != 0 {
		t.Fatalf("backlog %+v after a bill that was not stored; want it empty", b)
	}
	j.FailWrites = nil

	before := j.Writes
	st, created, err := svc.Settle(ctx, forced("k2", 2000))
	if err != nil || !created || st.State != agent.StateDeferred || st.DeferredAt.IsZero() {
		t.Fatalf("forced offline: %v %v %+v", err, created, st)
	}
	if n := j.Writes - before; n != 1 {
		t.Errorf("%d journal writes for a bill deferred at once; want 1", n)
	}
	if n := len(p.Calls()); n != 0 {
		t.Errorf("the platform was asked %d times: %v", n, p.Calls())
	}
	if b, _ := svc.Backlog(ctx); b.Count != 1 || b.Amount != 2000 {
		t.Fatalf("backlog %+v; want the one bill", b)
	}
	// The same key again is the same bill, not a second place.
	if again, created, err := svc.Settle(ctx, forced("k2", 2000)); err != nil || created || again.ID != st.ID {
		t.Fatalf("resubmitted: %v %v %+v", err, created, again)
	}
	if b, _ := svc.Backlog(ctx); b.Count != 1 {
		t.Fatalf("backlog %+v after the resubmission; want one bill", b)
	}
}
