package agenttest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/insurancetest"
)

func TestTheFakeInsuranceMeetsTheContract(t *testing.T) {
	insurancetest.Run(t, func(t *testing.T) *insurancetest.Harness {
		clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
		ins := agenttest.NewInsurance()
		ins.Model.Clock = clk
		ev := &agenttest.EVoucher{Model: ins.Model}
		var mu sync.Mutex
		n := 0
		return &insurancetest.Harness{
			Insurance: ins, Now: clk.Now,
			Msgid: func() string {
				mu.Lock()
				defer mu.Unlock()
				n++
				return fmt.Sprintf("H44190000001%s%04d", clk.Now().Format("20060102150405"), n)
			},
			Operator: agent.Operator{ID: "K01", Name: "自助机01", Type: "2"},
			Patient:  agent.IdentifyRequest{CertType: agent.CertIDNo, CertNo: agenttest.DefaultIDNo, IDNo: agenttest.DefaultIDNo},
			Unknown:  agent.IdentifyRequest{CertType: agent.CertIDNo, CertNo: "110105194912310021"},
			ClassA:   agenttest.CodeClassA, ClassB: agenttest.CodeClassB, ClassC: agenttest.CodeClassC,
			EVoucher: ev,
			Code:     func(*testing.T) string { return ev.Code(agenttest.DefaultIDNo) },
		}
	})
}

func TestAnOverrideScriptsOneMethodAndMayStillBook(t *testing.T) {
	ins := agenttest.NewInsurance()
	ins.ReverseFunc = func(ctx context.Context, r agent.ReverseRequest) (agent.Reversal, error) {
		return agent.Reversal{}, agent.ErrInDoubt
	}
	if _, err := ins.Reverse(t.Context(), agent.ReverseRequest{}); err != agent.ErrInDoubt {
		t.Fatalf("scripted Reverse = %v", err)
	}
	if ins.Count("Reverse") != 1 {
		t.Fatalf("calls %+v", ins.Calls())
	}
}
