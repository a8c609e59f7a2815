package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// scriptedChannel answers agreement lookups with the next error of its
// script; nothing else is called here.
type scriptedChannel struct {
	agent.PaymentChannel
	errs []error
}

func (c *scriptedChannel) Agreement(context.Context, agent.AgreementQuery) (agent.Agreement, error) {
	err := c.errs[0]
	c.errs = c.errs[1:]
	return agent.Agreement{}, err
}

func TestThePaymentChannelsReachabilityIsInTheStatus(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	fc := clock.NewFake(t0)
	ch := &scriptedChannel{errs: []error{
		fmt.Errorf("agreement: %w: dial tcp 127.0.0.1:1: connection refused", agent.ErrUnreachable),
		agent.ErrNoAgreement, // an answer: the channel is there
	}}
	w := newPayWatch(ch, fc)
	line := func() (string, daemonStatus) {
		st := daemonStatus{Payment: w.status("https://pay.example/gateway/api")}
		st.Online = true
		return statusLine(st), st
	}
	if l, st := line(); st.Payment.Reachable != nil || strings.Contains(l, "PAYMENT") {
		t.Fatalf("before any exchange: %q %+v; want neither up nor down", l, st.Payment)
	}

	_, _ = w.Agreement(context.Background(), agent.AgreementQuery{})
	l, st := line()
	if st.Payment.Reachable == nil || *st.Payment.Reachable || !st.Payment.LastErrorAt.Equal(t0) ||
		!strings.Contains(l, "PAYMENT CHANNEL UNREACHABLE") || !strings.Contains(l, "connection refused") {
		t.Fatalf("after a refused connection: %q %+v", l, st.Payment)
	}

	fc.Advance(time.Minute)
	_, _ = w.Agreement(context.Background(), agent.AgreementQuery{})
	l, st = line()
	if st.Payment.Reachable == nil || !*st.Payment.Reachable || !st.Payment.LastOK.Equal(t0.Add(time.Minute)) || strings.Contains(l, "PAYMENT") {
		t.Fatalf("after an answer (no agreement): %q %+v", l, st.Payment)
	}
	// Scripts read it beside the platform's, in the one status document.
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if p, ok := doc["payment"].(map[string]any); !ok || p["reachable"] != true || doc["online"] != true || doc["platform"] == nil {
		t.Fatalf("status JSON %s", raw)
	}
}
