package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/offline/journal"
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

	// What a fleet's monitoring reads of the terminal: the version, the
	// journal's schema, since when it runs, each counterparty's last good
	// exchange.
	var doc map[string]any
	if err := r.api.Status(context.Background(), &doc); err != nil {
		t.Fatal(err)
	}
	platform, _ := doc["platform"].(map[string]any)
	payment, _ := doc["payment"].(map[string]any)
	if doc["version"] == nil || doc["schema"] != float64(journal.LatestSchema()) || doc["started_at"] == nil || platform["last_ok"] == nil || payment["last_ok"] == nil {
		t.Errorf("status lacks what monitoring reads: %v", doc)
	}
}

// With --json an error is JSON too, on standard output: a script reads
// its code and exit status, and what to tell the patient.
func TestErrorsAreJSONWithJSON(t *testing.T) {
	r := newDiskRig(t, t.TempDir()+"/journal.db")
	r.mustStart()
	for _, c := range []struct {
		args []string
		code string
		exit int
	}{
		{[]string{"settle", "--operator", "W01", "--bill", "x.json", "--json"}, "USAGE", exitUsage},
		{[]string{"receipt", "NO-SUCH-ID", "--json"}, "NOT_FOUND", exitNotFound},
		{[]string{"settle", "--card", "--operator", "W01", "--bill", writeBill(t), "--json"}, "NO_CARD_READER", exitInvalid},
	} {
		out, exit := r.cli(c.args...)
		var body struct {
			Error struct {
				Code      string `json:"code"`
				Exit      int    `json:"exit"`
				Message   string `json:"message"`
				MessageZH string `json:"message_zh"`
			} `json:"error"`
		}
		err := json.Unmarshal([]byte(out), &body)
		if exit != c.exit || err != nil || body.Error.Code != c.code || body.Error.Exit != c.exit || body.Error.Message == "" {
			t.Errorf("%v: exit %d, output\n%s\nwant %s, exit %d", c.args, exit, out, c.code, c.exit)
		}
		if c.code == "NO_CARD_READER" && body.Error.MessageZH == "" {
			t.Errorf("%v: no message for the cashier: %s", c.args, out)
		}
	}
}

func writeBill(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bill.json")
	bill := `{"visit_no": "MZ9", "dept_code": "A03", "doctor_id": "D017",
  "items": [{"code": "110200001", "class": "01", "quantity": 1, "unit_price_fen": 5000, "amount_fen": 5000}]}`
	if err := os.WriteFile(path, []byte(bill), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// At the window the cashier signs the patient up, lowers the limits with
// them, shows and cancels the agreement; the patient's next bill over the
// new limit waits for confirmation, for that reason.
func TestTheWindowSignsAPatientUpForPasswordFreePayment(t *testing.T) {
	r := newDiskRig(t, t.TempDir()+"/journal.db")
	r.mustStart()
	p, _ := r.personas.ByKey("no-agreement")
	who := []string{"--id-no", p.Certno, "--name", p.Name, "--operator", "W01"}
	if out, code := r.cli(append([]string{"agreement", "show"}, who...)...); code != exitNotFound || !strings.Contains(out, "未签约") {
		t.Fatalf("show before signing: exit %d\n%s", code, out)
	}
	if out, code := r.cli(append([]string{"agreement", "sign", "--source", "bank_card", "--card-no", "6222021234567890127"}, who...)...); code != exitInvalid || !strings.Contains(out, "BAD_CARD_NUMBER") {
		t.Fatalf("sign with a mistyped card number: exit %d\n%s", code, out)
	}
	out, code := r.cli(append([]string{"agreement", "sign", "--source", "bank_card", "--card-no", "6222021234567890128"}, who...)...)
	if code != exitOK || !strings.Contains(out, "6222 **** 0128") || strings.Contains(out, "6222021234567890128") {
		t.Fatalf("sign: exit %d\n%s", code, out)
	}
	if out, code := r.cli(append([]string{"agreement", "limits", "--per-payment", "500"}, who...)...); code != exitInvalid || !strings.Contains(out, "BAD_LIMITS") {
		t.Fatalf("limits above the rollout's: exit %d\n%s", code, out)
	}
	if out, code := r.cli(append([]string{"agreement", "limits", "--per-payment", "20", "--daily", "100"}, who...)...); code != exitOK || !strings.Contains(out, "20.00") {
		t.Fatalf("limits: exit %d\n%s", code, out)
	}
	v, err := r.api.Settle(context.Background(), "sign-1", api.SettleBody{
		Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno},
		Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: "MZ-sign-1", DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "003108000010000", Class: "03", Quantity: money.QuantityOf(1), UnitPriceFen: 5000, Amount: 5000}}},
	})
	if err != nil || v.Pay.Reason != agent.ReasonLimitPerPayment {
		t.Fatalf("a bill over the new limit: %v, part %s (%s)", err, v.Pay.Status, v.Pay.Reason)
	}
	if out, code := r.cli(append([]string{"agreement", "cancel"}, who...)...); code != exitOK {
		t.Fatalf("cancel: exit %d\n%s", code, out)
	}
	if out, code := r.cli(append([]string{"agreement", "show", "--json"}, who...)...); code != exitNotFound || !strings.Contains(out, `"NO_AGREEMENT"`) {
		t.Fatalf("show after cancelling: exit %d\n%s", code, out)
	}
}

// Every mistake on the command line is a usage error, exit 2: a missing
// or extra argument, a mistyped command or flag.
func TestUsageMistakesExitTwo(t *testing.T) {
	for _, args := range [][]string{{"receipt"}, {"refund", "a", "b"}, {"journal", "show"}, {"settel"}, {"status", "--jsno"}, {"card", "watch", "extra"}} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		if code := report(root, root.Execute()); code != exitUsage {
			t.Errorf("medterm %v: exit %d, want %d\n%s", args, code, exitUsage, out.String())
		}
	}
}
