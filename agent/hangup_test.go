package agent_test

import (
	"context"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// A caller that hung up before the work began (its context already
// cancelled) still has its bill settled: what the journal accepts is
// always driven to an end.
func TestACallerThatHungUpStillHasItsBillSettled(t *testing.T) {
	j := journaltest.MustOpen(t) // the real journal, which refuses work for a cancelled context
	p := agenttest.NewInsurance()
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: j.Clock})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st, created, err := svc.Settle(ctx, request("gone-1", bill(2500)))
	if err != nil || !created || st.State != agent.StateSettled {
		t.Fatalf("Settle after the caller hung up = %v, created %v, %+v; want settled", err, created, st)
	}
	if n := p.Count("Settle"); n != 1 {
		t.Fatalf("2207 sent %d times, want 1", n)
	}
}

// A bill the journal accepted but no step ever drove (the process ended
// right after the write) is pending work: the next process's forwarder
// finds it and drives it to an end, as its caller would have had it.
func TestABillLeftAcceptedByAnEndedProcessIsDrivenByTheNext(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // after the journal has closed
	j := journaltest.MustOpen(t)
	entered := make(chan struct{})
	stuck := agenttest.NewInsurance()
	stuck.Before("Identify", func(context.Context, string) error {
		close(entered)
		<-release // the process ends here, its first request unanswered
		return agent.ErrUnreachable
	})
	first := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: stuck, Clock: j.Clock})
	go first.Settle(context.Background(), request("left-1", bill(1800)))
	<-entered

	p := agenttest.NewInsurance()
	next := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: clock.Real{}})
	pending, err := next.Pending(context.Background())
	if err != nil || len(pending) != 1 || pending[0].State != agent.StateAccepted {
		t.Fatalf("pending = %v, %+v; want the accepted bill", err, pending)
	}
	st, err := next.Forward(context.Background(), pending[0].ID)
	if err != nil || st.State != agent.StateSettled {
		t.Fatalf("Forward = %v, %+v; want settled", err, st)
	}
	if n := p.Count("Settle"); n != 1 {
		t.Fatalf("2207 sent %d times, want 1", n)
	}
}
