package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// Bills the HIS leaves for the kiosk and the window: found by whoever
// identifies as their patient, settled once, cancelled only while open.

const otherPatient = "110105198001010016"

func hold(key string, idNo string) agent.HoldRequest {
	return agent.HoldRequest{IdempotencyKey: key,
		Identity: agent.IdentityInput{CertType: agent.CertIDNo, CertNo: idNo, Name: "王小明"},
		Operator: agent.Operator{ID: "D01", Type: agent.OpterClerk}, Bill: bill(2500, 1200)}
}

func TestAHeldBillIsFoundByItsPatientOnlyAndSettledOnce(t *testing.T) {
	ctx := context.Background()
	svc, j, _ := newService(t)
	h, created, err := svc.Hold(ctx, hold("his-rx-1", "11010519491231002X"))
	if err != nil || !created || h.State != agent.HeldOpen || h.Total != 3700 || h.Patient != "王**" {
		t.Fatalf("Hold = %+v, %v, %v", h, created, err)
	}
	if again, created, err := svc.Hold(ctx, hold("his-rx-1", "11010519491231002X")); err != nil || created || again.ID != h.ID {
		t.Fatalf("the same key again = %+v, %v, %v; want the same held bill", again, created, err)
	}
	other := hold("his-rx-1", "11010519491231002X")
	other.Bill = bill(99)
	if _, _, err := svc.Hold(ctx, other); !errors.Is(err, agent.ErrIdempotencyConflict) {
		t.Fatalf("another bill under the key: %v", err)
	}
	if j.Writes != 0 {
		t.Fatalf("holding a bill wrote %d settlements", j.Writes)
	}

	mine := agent.IdentityInput{CertType: agent.CertIDNo, CertNo: "11010519491231002X"}
	theirs := agent.IdentityInput{CertType: agent.CertIDNo, CertNo: otherPatient}
	if l, err := svc.HeldBills(ctx, &mine, agent.HeldOpen); err != nil || len(l) != 1 || l[0].ID != h.ID {
		t.Fatalf("the patient's held bills = %v, %v", l, err)
	}
	if l, err := svc.HeldBills(ctx, &theirs); err != nil || len(l) != 0 {
		t.Fatalf("another patient sees %d held bills (%v)", len(l), err)
	}
	op := agent.Operator{ID: "W01", Type: agent.OpterClerk}
	_, _, err = svc.SettleHeld(ctx, h.ID, theirs, op, "")
	var ref *agent.Refused
	if !errors.As(err, &ref) || ref.Code != agent.RefuseOtherPatient || !errors.Is(err, agent.ErrConflict) {
		t.Fatalf("settled by another patient: %v", err)
	}

	st, hb, err := svc.SettleHeld(ctx, h.ID, mine, op, "")
	if err != nil || st.State != agent.StateSettled || st.Split.Total != 3700 || hb.State != agent.HeldSettled || hb.Settlement != st.ID {
		t.Fatalf("SettleHeld = %+v, %+v, %v", st, hb, err)
	}
	if again, _, err := svc.SettleHeld(ctx, h.ID, mine, op, ""); err != nil || again.ID != st.ID {
		t.Fatalf("settling it again = %v, %v; want settlement %s", again, err, st.ID)
	}
	if l, _ := svc.List(ctx, agent.ListFilter{}); len(l) != 1 {
		t.Fatalf("%d settlements; want 1", len(l))
	}
	if _, err := svc.CancelHeld(ctx, h.ID, op); !errors.Is(err, agent.ErrConflict) {
		t.Fatalf("cancelling a settled bill: %v", err)
	}
}

func TestAHeldBillSurvivesARestartAndCancelledIsNoLongerPayable(t *testing.T) {
	ctx := context.Background()
	c := clock.NewFake(agenttest.Epoch)
	j := agenttest.NewJournal(c)
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: agenttest.NewInsurance(), Clock: c})
	h, _, err := svc.Hold(ctx, hold("his-rx-2", otherPatient))
	if err != nil {
		t.Fatal(err)
	}
	restarted := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: agenttest.NewInsurance(), Clock: c})
	got, err := restarted.HeldBill(ctx, h.ID)
	if err != nil || got.State != agent.HeldOpen {
		t.Fatalf("after a restart: %+v, %v", got, err)
	}
	if c, err := restarted.CancelHeld(ctx, h.ID, agent.Operator{ID: "D01", Type: agent.OpterClerk}); err != nil || c.State != agent.HeldCancelled {
		t.Fatalf("cancel = %+v, %v", c, err)
	}
	id := agent.IdentityInput{CertType: agent.CertIDNo, CertNo: otherPatient}
	if _, _, err := restarted.SettleHeld(ctx, h.ID, id, agent.Operator{ID: "W01", Type: agent.OpterClerk}, ""); !errors.Is(err, agent.ErrConflict) {
		t.Fatalf("settling a cancelled bill: %v", err)
	}
}

func TestAHeldBillNamesItsPatientByIDNumber(t *testing.T) {
	svc, _, _ := newService(t)
	req := hold("his-rx-3", "11010519491231002X")
	req.Identity = agent.IdentityInput{CertType: agent.CertSSCard, CertNo: "D1"}
	if _, _, err := svc.Hold(context.Background(), req); !errors.Is(err, agent.ErrInvalid) {
		t.Fatalf("a held bill by card number: %v", err)
	}
}
