package agenttest

import (
	"context"
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
)

// The rules are specified in agent/paytest, which runs them against this
// fake; here only the scripting.
func TestAPayChannelFuncReplacesItsMethodAndEveryCallIsRecorded(t *testing.T) {
	p := &PayChannel{PayFunc: func(context.Context, agent.PayOrder) (agent.PayOutcome, error) {
		return agent.PayOutcome{}, agent.ErrUnreachable
	}}
	if _, err := p.Pay(context.Background(), agent.PayOrder{}); !errors.Is(err, agent.ErrUnreachable) {
		t.Fatalf("scripted pay: %v", err)
	}
	if _, err := p.Agreement(context.Background(), agent.AgreementQuery{IDNo: "441900199210101014"}); !errors.Is(err, agent.ErrNoAgreement) {
		t.Fatalf("default agreement: %v", err)
	}
	if got := p.Calls(); len(got) != 2 || got[0] != "Pay" || got[1] != "Agreement" {
		t.Fatalf("calls %v", got)
	}
}
