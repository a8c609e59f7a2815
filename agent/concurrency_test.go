package agent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

func TestConcurrentSameKeyForwardRefund(t *testing.T) {
	j := journaltest.MustOpen(t)
	p := agenttest.NewInsurance()
	var mu sync.Mutex
	booked := map[string]int{}
	p.Before("Settle", func(_ context.Context, msgid string) error {
		mu.Lock()
		booked[msgid]++
		mu.Unlock()
		return nil
	})
	// One patient's twenty bills, half of them deferred at once: the
	// per-patient offline limits would refuse some, depending on how the
	// goroutines interleave. This test is about concurrency, not limits.
	pol := agent.DefaultOfflinePolicy()
	pol.MaxPerPatientCount, pol.MaxPerPatientAmount = 100, money.CNY(100_000)
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: j.Clock, Offline: pol})
	ctx := context.Background()
	var wg sync.WaitGroup
	for k := 0; k < 20; k++ {
		key := fmt.Sprintf("k%d", k)
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := cardRequest(key, bill(3000))
				if k%2 == 0 {
					r.Mode = agent.ModeForceOffline
				}
				st, _, err := svc.Settle(ctx, r)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = svc.Forward(ctx, st.ID)
				_, _ = svc.Backlog(ctx)
			}()
		}
	}
	wg.Wait()
	list, _ := svc.List(ctx, agent.ListFilter{})
	if len(list) != 20 {
		t.Fatalf("%d settlements", len(list))
	}
	ids := map[string]bool{}
	for _, st := range list {
		ids[st.Msgids[agent.StepSettle]] = true
		if st.State != agent.StateSettled {
			t.Errorf("%s %s", st.ID, st.State)
		}
	}
	b, _ := svc.Backlog(ctx)
	if b.Count != 0 {
		t.Errorf("backlog %+v", b)
	}
}
