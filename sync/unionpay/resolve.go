package unionpay

import (
	"context"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// QueryDelays is ACP's query schedule for an order whose outcome is
// unknown (03, 04, 05): at 1, 2, 4, 8, 16 and 32 seconds, at most six
// times; after that the statement file decides (research notes §12.3).
var QueryDelays = []time.Duration{
	1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
}

// Resolve queries an order on QueryDelays until its outcome is final. A
// query that fails (unreachable, in doubt, refused) is retried at the next
// time of the schedule like one that answered "unknown". After the sixth
// query it returns the last outcome, PayUnknown, or the last error when no
// query was answered: the order is then for the statement to settle.
//
// It works on any agent.PaymentChannel: it is the schedule, not the wire,
// and belongs with whoever waits on a payment's outcome.
func Resolve(ctx context.Context, clk clock.Clock, ch agent.PaymentChannel, o agent.OrderRef) (agent.PayOutcome, error) {
	last := agent.PayOutcome{Status: agent.PayUnknown}
	var lastErr error
	answered := false
	for _, d := range QueryDelays {
		select {
		case <-ctx.Done():
			if answered {
				return last, nil
			}
			return last, ctx.Err()
		case <-clk.After(d):
		}
		out, err := ch.Query(ctx, o)
		if err != nil {
			lastErr = err
			continue
		}
		answered, last = true, out
		if out.Status != agent.PayUnknown {
			return out, nil
		}
	}
	if !answered && lastErr != nil {
		return last, lastErr
	}
	return last, nil
}
