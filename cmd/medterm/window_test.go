//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// TestTheWindowCollectsAPendingPartAndRefundsEachPartWhereItWent plays the
// window against the real daemon and both sandbox counterparties: a
// patient whose sources cannot cover the part leaves it pending; the
// cashier takes it in cash (`medterm collect`); a refund cancels the
// insured part with the platform and says to give the cash back at the
// window, while a part the channel took goes back through the channel.
func TestTheWindowCollectsAPendingPartAndRefundsEachPartWhereItWent(t *testing.T) {
	r := newDiskRig(t, t.TempDir()+"/journal.db")
	r.mustStart()
	settle := func(key, persona string, fen money.Fen) api.SettlementView {
		t.Helper()
		p, ok := r.personas.ByKey(persona)
		if !ok {
			t.Fatalf("no persona %s", persona)
		}
		v, err := r.api.Settle(context.Background(), key, api.SettleBody{
			Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno},
			Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk},
			Bill: agent.Bill{VisitNo: key, DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
				{Code: "002701000010000", Class: "02", Quantity: money.QuantityOf(1), UnitPriceFen: fen, Amount: fen}, // class B: a part to pay
			}},
		})
		if err != nil || v.State != agent.StateSettled {
			t.Fatalf("%s: %v %s %+v", key, err, v.State, v.Error)
		}
		return v
	}

	pending := settle("win-1", "insufficient", 18000)
	if pending.Pay.Status != agent.PayPending || pending.Pay.Amount <= 0 {
		t.Fatalf("insufficient's part: %+v; want pending, to pay at the window", pending.Pay)
	}
	if out, code := r.cli("collect", pending.ID, "--channel", "bitcoin", "--operator", "W01"); code != exitInvalid {
		t.Fatalf("collect by an unknown channel: exit %d\n%s", code, out)
	}
	out, code := r.cli("collect", pending.ID, "--channel", "cash", "--operator", "W01", "--operator-name", "Window 1")
	if code != exitOK || !strings.Contains(out, pending.Pay.Amount.String()) {
		t.Fatalf("collect: exit %d\n%s", code, out)
	}
	v, err := r.api.Get(context.Background(), pending.ID, false)
	if err != nil || v.Pay.Status != agent.PayCollected || v.Pay.Collected == nil || v.Pay.Collected.Amount != pending.Pay.Amount ||
		v.Pay.Collected.Channel != agent.CollectCash {
		t.Fatalf("after collect: %v %+v", err, v.Pay)
	}
	if out, code := r.cli("collect", pending.ID, "--channel", "cash", "--operator", "W01"); code == exitOK {
		t.Fatalf("a part collected twice:\n%s", out)
	}

	paid := settle("win-2", "bank-card", 18000)
	if paid.Pay.Status != agent.PayPaid {
		t.Fatalf("bank-card's part: %+v; want paid by the channel", paid.Pay)
	}
	r.wantBooks([]api.SettlementView{v, paid})

	for _, c := range []struct {
		id, want string
	}{{pending.ID, agent.PayReturnAtWindow}, {paid.ID, agent.PayReturned}} {
		out, code := r.cli("refund", c.id, "--operator", "W01", "--reason", "wrong item", "--json")
		if code != exitOK || !strings.Contains(out, `"refunded"`) {
			t.Fatalf("refund %s: exit %d\n%s", c.id, code, out)
		}
		v, err := r.api.Get(context.Background(), c.id, false)
		if err != nil || v.State != agent.StateRefunded || v.Pay.Status != c.want {
			t.Fatalf("%s after the refund: %v %s, part %s; want %s", c.id, err, v.State, v.Pay.Status, c.want)
		}
	}
	l, err := r.sandbox.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Settlements {
		if !s.Cancelled {
			t.Errorf("the platform's settlement %s of %s stands after its refund", s.SetlID, s.ChrgBchno)
		}
	}
	pl, err := r.channel.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	var given money.Fen
	for _, o := range pl.Orders {
		if o.Booked() && o.TxnType != acp.TxnConsume {
			given += o.Amount
		}
	}
	if given != paid.Pay.Amount {
		t.Fatalf("the channel gave back %s; want the %s it took (and nothing of the cash)", given, paid.Pay.Amount)
	}

	// The refund receipt, printed on the window's printer: who refunded,
	// why, what went back where, every line within the 58 mm paper.
	printed := filepath.Join(t.TempDir(), "printed.txt")
	f, err := os.OpenFile(r.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[receipt]\npaper = \"58mm\"\nprinter = \"command\"\ncommand = [\"sh\", \"-c\", \"cat > \\\"$0\\\"\", %q]\n", printed)
	f.Close()
	if out, code := r.cli("receipt", paid.ID, "--print"); code != exitOK || !strings.Contains(out, "printed") {
		t.Fatalf("receipt --print: exit %d\n%s", code, out)
	}
	text, err := os.ReadFile(printed)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"已退费 REFUNDED", "退费人 By", "W01", "wrong item", "UTC+8"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the printed refund receipt lacks %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		if w := agent.DisplayWidth(line); w > agent.Paper58 {
			t.Errorf("printed line of %d columns on 58 mm paper: %q", w, line)
		}
	}
}
