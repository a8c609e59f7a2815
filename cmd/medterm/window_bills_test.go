package main

import (
	"context"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// At the window: the cashier finds the bill the HIS left for the patient
// by ID number, settles it, and sees it in the journal's list; a command
// that does not say who the patient is, or says it twice, is a usage
// error (exit 2) and sends nothing.
func TestTheWindowSettlesABillTheHISLeft(t *testing.T) {
	r := newDiskRig(t, t.TempDir()+"/journal.db")
	r.mustStart()
	p, _ := r.personas.ByKey("bank-card")
	var h api.HeldView
	if _, err := r.api.Do(context.Background(), "POST", "/v1/bills", map[string][]string{"Idempotency-Key": {"rx-1"}}, api.HoldBody{
		Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno, Name: p.Name},
		Operator: agent.Operator{ID: "D017", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: "MZ-rx-1", DeptCode: "A03", DeptName: "内科", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "002701000010000", Class: "02", Quantity: money.QuantityOf(1), UnitPriceFen: 12000, Amount: 12000}}},
	}, &h); err != nil {
		t.Fatal(err)
	}

	out, code := r.cli("bills", "--id-no", p.Certno)
	if code != exitOK || !strings.Contains(out, h.ID) || !strings.Contains(out, "账单 Bill") || strings.Contains(out, p.Name) {
		t.Fatalf("bills: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"settle", "--held", h.ID, "--operator", "W01"},                                          // who pays?
		{"settle", "--held", h.ID, "--operator", "W01", "--id-no", p.Certno, "--scan", "latest"}, // twice
		{"settle", "--operator", "W01", "--id-no", p.Certno},                                     // which bill?
		{"settle", "--held", h.ID, "--operator", "W01", "--id-no", "441900198209030227"},         // a bad check digit
	} {
		if out, code := r.cli(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, out)
		}
	}
	out, code = r.cli("settle", "--held", h.ID, "--operator", "W01", "--id-no", p.Certno, "--json")
	if code != exitOK || !strings.Contains(out, `"settled"`) {
		t.Fatalf("settle --held: exit %d\n%s", code, out)
	}
	out, code = r.cli("journal", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], "结算号 ID") || !strings.Contains(lines[1], "settled") {
		t.Fatalf("journal list: exit %d\n%s", code, out)
	}
	// The columns line up by display width: the state starts where its
	// header does.
	if hdr, row := agent.DisplayWidth(lines[0][:strings.Index(lines[0], "状态")]), agent.DisplayWidth(lines[1][:strings.Index(lines[1], "settled")]); hdr != row {
		t.Errorf("the state column starts at %d in the header and %d in the row:\n%s", hdr, row, out)
	}
	if out, code := r.cli("bills", "--state", "settled", "--json"); code != exitOK || !strings.Contains(out, h.ID) {
		t.Fatalf("bills --state settled: exit %d\n%s", code, out)
	}
}
