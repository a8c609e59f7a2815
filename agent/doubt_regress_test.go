package agent_test

import (
	"context"
	"sync"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// Regression: a 2207 whose answer was lost and whose resend is refused at
// the door (INTERNAL, BAD_SIGNATURE, STALE_TIMESTAMP...) stays in doubt:
// it may have been booked, so it is neither deferred nor voidable.
func TestADoorRefusalAfterALostAnswerKeepsTheBillInDoubt(t *testing.T) {
	svc, p, up, _ := offlineService(t)
	ctx := context.Background()
	st, _, err := svc.Settle(ctx, func() agent.SettleRequest {
		r := cardRequest("k1", bill(3000))
		r.Mode = agent.ModeForceOffline
		return r
	}())
	if err != nil || st.State != agent.StateDeferred {
		t.Fatalf("%v %v", st, err)
	}
	up()
	n := 0
	p.Before("Settle", func(context.Context, string) error {
		n++
		if n == 1 {
			return agent.ErrInDoubt // sent, answer lost (maybe booked)
		}
		return &agent.Refusal{Op: "2207", Kind: agent.RefusedAtDoor, Message: "系统繁忙"}
	})
	for range 2 {
		if st, err = svc.Forward(ctx, st.ID); err != nil {
			t.Fatal(err)
		}
	}
	if st.State != agent.StateInDoubt {
		t.Errorf("state %s; want still in_doubt: the first 2207 may have been booked", st.State)
	}
	if v, err := svc.Void(ctx, st.ID, agent.Operator{ID: "W1", Type: "1"}, "paid cash"); err == nil {
		t.Errorf("voided (%s) a bill whose 2207 may be booked", v.State)
	}
}

// The same for an online bill: the resubmission meets a door refusal and
// the bill stays in doubt, never "failed" (which says nothing was booked).
func TestAnOnlineBillInDoubtIsNotFailedByADoorRefusal(t *testing.T) {
	svc, p, up, _ := offlineService(t)
	up()
	ctx := context.Background()
	n := 0
	p.Before("Settle", func(context.Context, string) error {
		n++
		if n == 1 {
			return agent.ErrInDoubt
		}
		return &agent.Refusal{Op: "2207", Kind: agent.RefusedAtDoor, Message: "签名时间戳超时!"}
	})
	if st, _, err := svc.Settle(ctx, cardRequest("k1", bill(3000))); err != nil || st.State != agent.StateInDoubt {
		t.Fatalf("first submission: %v %+v; want in doubt", err, st)
	}
	st, _, err := svc.Settle(ctx, cardRequest("k1", bill(3000)))
	if err != nil || st.State == agent.StateFailed {
		t.Errorf("failed (= nothing booked) after a 2207 that may have been booked")
	}
}

// hookJournal runs after() between a committed Update and its return.
type hookJournal struct {
	agent.Journal
	mu    sync.Mutex
	after func()
}

func (h *hookJournal) Update(ctx context.Context, id string, fn func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, error) {
	st, err := h.Journal.Update(ctx, id, fn)
	h.mu.Lock()
	f := h.after
	h.after = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return st, err
}

// Regression: the backlog cache loaded between a journal commit and the
// cache's move counts the change twice.
func TestBacklogCacheLoadedMidUpdateCountsOnce(t *testing.T) {
	c := clock.NewFake(agenttest.Epoch)
	j := &hookJournal{Journal: agenttest.NewJournal(c)}
	p := agenttest.NewInsurance()
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: c, Offline: agent.DefaultOfflinePolicy()})
	ctx := context.Background()
	// A deferred bill, cache not yet loaded.
	j.after = func() { _, _ = svc.Backlog(ctx) } // a status request lands right after the commit
	r := cardRequest("k1", bill(3000))
	r.Mode = agent.ModeForceOffline
	st, _, err := svc.Settle(ctx, r)
	if err != nil || st.State != agent.StateDeferred {
		t.Fatal(st, err)
	}
	b, _ := svc.Backlog(ctx)
	if b.Count != 1 || b.Amount != 3000 {
		t.Errorf("backlog %+v; want 1 bill of 3000", b)
	}
	// Now forward it; the cache is loaded; then the inverse race on a new service.
	svc2 := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: c, Offline: agent.DefaultOfflinePolicy()})
	j.mu.Lock()
	j.after = func() {
		j.mu.Lock()
		j.after = func() { _, _ = svc2.Backlog(ctx) } // after the second update (settled)
		j.mu.Unlock()
	}
	j.mu.Unlock()
	// first update of Forward is to settling (still in backlog) – then settled.
	st, err = svc2.Forward(ctx, st.ID)
	if err != nil || st.State != agent.StateSettled {
		t.Fatal(st, err)
	}
	b, _ = svc2.Backlog(ctx)
	if b.Count != 0 || b.Amount != 0 {
		t.Errorf("backlog after the only bill settled: %+v; want empty", b)
	}
}
