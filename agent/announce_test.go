package agent_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
)

// A HIS that follows the event stream must hear of every state a bill
// reaches, whoever moved it: the window, the kiosk or the forwarder.
func TestEveryOutcomeOfDeferralForwardingVoidAndRefundIsAnnounced(t *testing.T) {
	c := clock.NewFake(agenttest.Epoch)
	p := agenttest.NewInsurance()
	down := true
	downHook := func(context.Context, string) error {
		if down {
			return agent.ErrUnreachable
		}
		return nil
	}
	for _, step := range []string{"Identify", "Register", "UploadFees", "PreSettle", "Settle", "Reverse", "Cancel", "Policy"} {
		p.Before(step, downHook)
	}
	bus := events.NewBus(nil)
	sub := bus.Subscribe(256)
	defer sub.Close()
	svc := agent.NewService(agent.ServiceConfig{Journal: agenttest.NewJournal(c), Insurance: p, Clock: c,
		Offline: agent.DefaultOfflinePolicy(), InDoubtWindow: time.Minute, Events: bus})
	ctx := context.Background()
	op := agent.Operator{ID: "W01", Type: "1"}

	// announced is what was published since it was last called: Publish
	// never waits, so it is all in the channel already.
	announced := func() []string {
		var out []string
		for {
			select {
			case ev := <-sub.C:
				d := ev.Data.(map[string]any)
				s := fmt.Sprint(d["state"])
				if r, ok := d["refund"]; ok {
					s += "/refund " + fmt.Sprint(r)
				}
				out = append(out, s)
			default:
				return out
			}
		}
	}
	step := func(name string, want ...string) {
		t.Helper()
		if got := announced(); !slices.Equal(got, want) {
			t.Errorf("%s: announced %v; want %v", name, got, want)
		}
	}
	settle := func(key, mode string) *agent.Settlement {
		t.Helper()
		r := cardRequest(key, bill(3000))
		r.Mode = mode
		st, _, err := svc.Settle(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	k1 := settle("k1", "")
	step("deferred while the platform is down", "deferred")
	_, _ = svc.Forward(ctx, k1.ID)
	step("forwarded, still down", "deferred")
	down = false
	_, _ = svc.Forward(ctx, k1.ID)
	step("forwarded and settled", "settled")

	p.Before("Cancel", func(context.Context, string) error {
		return &agent.Refusal{Op: "2208", Kind: agent.RefusedNotFound, Message: "结算信息不存在"}
	})
	_, _ = svc.Refund(ctx, agent.RefundRequest{ID: k1.ID, Operator: op, Reason: "x"})
	step("refund declined", "refunding/refund refunding", "settled/refund declined")
	p.Before("Cancel", func(context.Context, string) error { return agent.ErrUnreachable })
	_, _ = svc.Refund(ctx, agent.RefundRequest{ID: k1.ID, Operator: op, Reason: "x"})
	step("refund unanswered", "refunding/refund refunding", "refunding/refund in_doubt")
	p.Before("Cancel", nil)
	_, _ = svc.Forward(ctx, k1.ID)
	step("refund forwarded and done", "refunded/refund refunded")

	k2 := settle("k2", agent.ModeForceOffline)
	_, _ = svc.Void(ctx, k2.ID, op, "paid cash")
	step("voided", "deferred", "voided")

	k3 := settle("k3", agent.ModeForceOffline)
	p.Before("Identify", func(context.Context, string) error {
		return &agent.Refusal{Op: "1101", Kind: agent.RefusedProcessed, Message: "卡已挂失"}
	})
	_, _ = svc.Forward(ctx, k3.ID)
	step("forwarded and declined", "deferred", "arrears")
	p.Before("Identify", nil)

	p.Before("Settle", func(context.Context, string) error { return agent.ErrInDoubt })
	k4 := settle("k4", "")
	step("answer lost", "in_doubt")
	c.Advance(2 * time.Minute)
	p.Before("Reverse", func(context.Context, string) error {
		return &agent.Refusal{Op: "2601", Kind: agent.RefusedProcessed, Message: "冲正失败"}
	})
	_, _ = svc.Forward(ctx, k4.ID)
	step("reversal refused", "reversing")
	p.Before("Reverse", func(context.Context, string) error { return agent.ErrUnreachable })
	_, _ = svc.Forward(ctx, k4.ID)
	step("reversal unanswered", "reversing")
	p.Before("Reverse", func(context.Context, string) error {
		return &agent.Refusal{Op: "2601", Kind: agent.RefusedNotFound, Message: "原交易不存在"}
	})
	_, _ = svc.Forward(ctx, k4.ID)
	step("reversed: nothing booked", "failed")
}
