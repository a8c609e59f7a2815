package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// A HIS that follows the event stream must hear of every state a bill
// reaches, whoever moved it: the window, the kiosk or the forwarder.
func TestEveryOutcomeOfDeferralForwardingVoidAndRefundIsAnnounced(t *testing.T) {
	c := clock.NewFake(agenttest.Epoch)
	p := &agenttest.Platform{Script: map[string]func(agent.PlatformRequest) (json.RawMessage, error){}}
	down := true
	for _, infno := range []string{"1101", "2201", "2204", "2206", "2207", "2601", "2208", "E002"} {
		p.Script[infno] = func(req agent.PlatformRequest) (json.RawMessage, error) {
			if down {
				return nil, agent.ErrUnreachable
			}
			return agenttest.DefaultAnswer(req)
		}
	}
	bus := events.NewBus(nil)
	sub := bus.Subscribe(256)
	defer sub.Close()
	svc := agent.NewService(agent.ServiceConfig{Journal: agenttest.NewJournal(c), Platform: p, Clock: c,
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

	p.Script["2208"] = func(req agent.PlatformRequest) (json.RawMessage, error) {
		return nil, &protocol.Error{Infno: "2208", Code: protocol.CodeNotFound, Message: "no such settlement"}
	}
	_, _ = svc.Refund(ctx, agent.RefundRequest{ID: k1.ID, Operator: op, Reason: "x"})
	step("refund declined", "refunding/refund refunding", "settled/refund declined")
	p.Script["2208"] = func(agent.PlatformRequest) (json.RawMessage, error) { return nil, agent.ErrUnreachable }
	_, _ = svc.Refund(ctx, agent.RefundRequest{ID: k1.ID, Operator: op, Reason: "x"})
	step("refund unanswered", "refunding/refund refunding", "refunding/refund in_doubt")
	p.Script["2208"] = func(req agent.PlatformRequest) (json.RawMessage, error) {
		return json.Marshal(protocol.CancelOutput{Setlinfo: protocol.SetlInfo{SetlID: "R1",
			MedfeeSumamt: protocol.Amount(money.Fen(-3000)), FundPaySumamt: protocol.Amount(money.Fen(-2100)), AcctPay: protocol.Amount(money.Fen(-900))}})
	}
	_, _ = svc.Forward(ctx, k1.ID)
	step("refund forwarded and done", "refunded/refund refunded")

	k2 := settle("k2", agent.ModeForceOffline)
	_, _ = svc.Void(ctx, k2.ID, op, "paid cash")
	step("voided", "deferred", "voided")

	k3 := settle("k3", agent.ModeForceOffline)
	p.Script["1101"] = func(agent.PlatformRequest) (json.RawMessage, error) {
		return nil, &protocol.Error{Infno: "1101", Code: protocol.CodeCardInvalid, Message: "card reported lost"}
	}
	_, _ = svc.Forward(ctx, k3.ID)
	step("forwarded and declined", "deferred", "arrears")
	p.Script["1101"] = agenttest.DefaultAnswer

	p.Script["2207"] = func(agent.PlatformRequest) (json.RawMessage, error) { return nil, agent.ErrInDoubt }
	k4 := settle("k4", "")
	step("answer lost", "in_doubt")
	c.Advance(2 * time.Minute)
	p.Script["2601"] = func(agent.PlatformRequest) (json.RawMessage, error) {
		return nil, &protocol.Error{Infno: "2601", Code: protocol.CodeBadRequest, Message: "refused"}
	}
	_, _ = svc.Forward(ctx, k4.ID)
	step("reversal refused", "reversing")
	p.Script["2601"] = func(agent.PlatformRequest) (json.RawMessage, error) { return nil, agent.ErrUnreachable }
	_, _ = svc.Forward(ctx, k4.ID)
	step("reversal unanswered", "reversing")
	p.Script["2601"] = func(agent.PlatformRequest) (json.RawMessage, error) {
		return nil, &protocol.Error{Infno: "2601", Code: protocol.CodeNotFound, Message: "never processed"}
	}
	_, _ = svc.Forward(ctx, k4.ID)
	step("reversed: nothing booked", "failed")
}
