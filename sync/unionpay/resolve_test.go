package unionpay

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// queries is a channel whose Query answers from a script.
type queries struct {
	agent.PaymentChannel
	answers []func() (agent.PayOutcome, error)
	at      []time.Time
	clk     clock.Clock
}

func (q *queries) Query(context.Context, agent.OrderRef) (agent.PayOutcome, error) {
	q.at = append(q.at, q.clk.Now())
	f := q.answers[0]
	if len(q.answers) > 1 {
		q.answers = q.answers[1:]
	}
	return f()
}

func TestResolveQueriesOnACPsScheduleUntilFinal(t *testing.T) {
	start := time.Date(2026, 3, 10, 10, 0, 0, 0, acp.CST)
	unknown := func() (agent.PayOutcome, error) { return agent.PayOutcome{Status: agent.PayUnknown}, nil }
	lost := func() (agent.PayOutcome, error) { return agent.PayOutcome{}, agent.ErrInDoubt }
	paid := func() (agent.PayOutcome, error) {
		return agent.PayOutcome{Status: agent.PaySucceeded, QueryID: "Q"}, nil
	}
	for name, c := range map[string]struct {
		answers []func() (agent.PayOutcome, error)
		want    string
		wantErr error
		queries int
	}{
		"paid at the third":    {[]func() (agent.PayOutcome, error){unknown, lost, paid}, agent.PaySucceeded, nil, 3},
		"never final":          {[]func() (agent.PayOutcome, error){unknown}, agent.PayUnknown, nil, 6},
		"never answered":       {[]func() (agent.PayOutcome, error){lost}, agent.PayUnknown, agent.ErrInDoubt, 6},
		"refused at the first": {[]func() (agent.PayOutcome, error){func() (agent.PayOutcome, error) { return agent.PayOutcome{Status: agent.PayRefused}, nil }}, agent.PayRefused, nil, 1},
	} {
		clk := clock.NewFake(start)
		q := &queries{answers: c.answers, clk: clk}
		done := make(chan struct{})
		var out agent.PayOutcome
		var err error
		go func() {
			defer close(done)
			out, err = Resolve(context.Background(), clk, q, agent.OrderRef{OrderID: "MT2026031000001", TxnTime: start})
		}()
		// Advance the clock exactly to each timer Resolve sets.
	loop:
		for _, d := range QueryDelays {
			select {
			case <-clk.WaiterAdded():
				clk.Advance(d)
			case <-done:
				break loop
			}
		}
		<-done
		if out.Status != c.want || !errors.Is(err, c.wantErr) && (c.wantErr != nil || err != nil) {
			t.Errorf("%s: %+v %v", name, out, err)
		}
		if len(q.at) != c.queries {
			t.Errorf("%s: %d queries, want %d", name, len(q.at), c.queries)
		}
		var total time.Duration
		for i, at := range q.at {
			total += QueryDelays[i]
			if !at.Equal(start.Add(total)) {
				t.Errorf("%s: query %d at +%s, want +%s", name, i+1, at.Sub(start), total)
			}
		}
	}
}
