package stacktest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/devices/imagecode"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/demo"
)

// The demo's day against both counterparties: every scenario shows its
// rule, the refund gives each part back where it came from, the day
// reconciles with the platform and the payment channel, and both ledgers
// agree with the journal.
func TestTheDemoDayAgainstTheSandbox(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	results, err := demo.Play(ctx, demo.Env{API: s.API, Personas: s.Personas,
		Reconcile: func(ctx context.Context) (agent.Report, error) { return s.Service.Reconcile(ctx, s.Clock().Now()) }}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s (%s): %v", r.Scenario.Name, r.Scenario.Persona, r.Err)
		}
	}
	if len(results) != len(demo.Day())+2 {
		t.Fatalf("played %d scenarios; want the day, its refund and its reconciliation", len(results))
	}
	assertLedgers(t, s)
	receiptsFitTheirPaper(t, s, results)
}

// receiptsFitTheirPaper prints every receipt of the day (refusal slips and
// the refund's included) for a 58 mm and an 80 mm printer, keeps them as
// artefacts, and checks that no line is wider than the paper.
func receiptsFitTheirPaper(t *testing.T, s *stacktest.Stack, results []demo.Result) {
	t.Helper()
	for _, paper := range []struct {
		name  string
		width int
	}{{"58mm", agent.Paper58}, {"80mm", agent.Paper80}} {
		var all strings.Builder
		printed := 0
		for _, r := range results {
			if r.View.ID == "" {
				continue
			}
			st, err := s.Service.Get(context.Background(), r.View.ID)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := s.Service.Receipt(st)
			if errors.Is(err, agent.ErrConflict) {
				continue // no receipt in this state (in doubt, failed)
			}
			if err != nil {
				t.Fatalf("%s: %v", r.Scenario.Name, err)
			}
			rc.Header.Width = paper.width
			text := rc.Text()
			for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				if w := agent.DisplayWidth(line); w > paper.width {
					t.Errorf("%s, %s receipt line %d is %d columns: %q", r.Scenario.Name, paper.name, i+1, w, line)
				}
			}
			fmt.Fprintf(&all, "== %s\n%s\n", r.Scenario.Name, text)
			printed++
		}
		if printed < len(demo.Day()) {
			t.Errorf("%d receipts printed for a day of %d bills", printed, len(demo.Day()))
		}
		if err := os.WriteFile(filepath.Join(artefacts(t), "receipts-"+paper.name+".txt"), []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func body(t *testing.T, s *stacktest.Stack, persona string, amount int64) api.SettleBody {
	t.Helper()
	p, ok := s.Personas.ByKey(persona)
	if !ok {
		t.Fatalf("no persona %s", persona)
	}
	return api.SettleBody{
		Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno},
		Operator: agent.Operator{ID: "D017", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: "MZ1", DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "110200001", Class: "01", Quantity: money.QuantityOf(1), UnitPrice: 0, Amount: 0},
		}},
	}
}

func withAmount(b api.SettleBody, fen int64) api.SettleBody {
	b.Bill.Items[0].UnitPrice = money.PriceOfFen(money.Fen(fen))
	b.Bill.Items[0].Amount = money.Fen(fen)
	return b
}

func TestSameIdempotencyKeyTwiceGivesOneSettlement(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	b := withAmount(body(t, s, "bank-card", 0), 5000)
	var wg sync.WaitGroup
	views := make([]api.SettlementView, 4)
	errs := make([]error, 4)
	for i := range views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i], errs[i] = s.API.Settle(context.Background(), "his-42", b)
		}()
	}
	wg.Wait()
	created := 0
	for i, v := range views {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if v.ID != views[0].ID || v.State != agent.StateSettled {
			t.Fatalf("call %d: %s %s; want the same settled settlement", i, v.ID, v.State)
		}
		if v.Created {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d calls say they created the settlement; want 1", created)
	}
	if n := s.Faults.Seen(protocol.Settle.Infno); n != 1 {
		t.Fatalf("the platform saw 2207 %d times; want 1", n)
	}
	assertLedgerSettlements(t, s, 1)
}

func TestLostSettlementAnswerIsRetriedUnderTheSameMsgidAndChargedOnce(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	s.Faults.DropAnswers(protocol.Settle.Infno, 2)
	v, err := s.API.Settle(context.Background(), "his-lost", withAmount(body(t, s, "bank-card", 0), 8000))
	if err != nil {
		t.Fatal(err)
	}
	if v.State != agent.StateSettled || v.Pay.Status != agent.PayPaid {
		t.Fatalf("state %s payment %s; want settled and paid after the resend", v.State, v.Pay.Status)
	}
	if n := s.Faults.Seen(protocol.Settle.Infno); n != 3 {
		t.Fatalf("2207 reached the platform %d times; want 3 (two answers lost)", n)
	}
	full, err := s.API.Get(context.Background(), v.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if full.Msgids[agent.StepSettle] == "" {
		t.Fatal("no 2207 msgid recorded")
	}
	assertLedgerSettlements(t, s, 1)
}

func TestSignInThatExpiresMidDayIsRenewedUnnoticed(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	if v, err := s.API.Settle(context.Background(), "morning", withAmount(body(t, s, "bank-card", 0), 2000)); err != nil || v.State != agent.StateSettled {
		t.Fatalf("morning: %v %s", err, v.State)
	}
	if err := s.Sandbox.ExpireSessions(); err != nil {
		t.Fatal(err)
	}
	v, err := s.API.Settle(context.Background(), "afternoon", withAmount(body(t, s, "bank-card", 0), 2000))
	if err != nil || v.State != agent.StateSettled {
		t.Fatalf("afternoon: %v %s %+v", err, v.State, v.Error)
	}
	if n := s.Faults.Seen(protocol.SignIn.Infno); n != 2 {
		t.Fatalf("sign-ins = %d; want 2 (the first, and one renewal)", n)
	}
}

// BenchmarkSettlementThroughAPI settles one bill per iteration through the
// local API against the sandbox over loopback. Baseline: a bare bbolt
// commit (with its fsync) on the same disk, measured in the same run; the
// ratio says how many bare commits one whole settlement costs (the agent's
// journal writes, the sandbox's own commits, HTTP both ways).
func BenchmarkSettlementThroughAPI(b *testing.B) {
	s := stacktest.Start(b, stacktest.Options{})
	bare := journaltest.OpenBare(b, s.Dir)
	bare.PerCommit(b, 5) // warm the file and the page cache
	base := bare.PerCommit(b, 50)
	p, _ := s.Personas.ByKey("bank-card")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		v, err := s.API.Settle(context.Background(), fmt.Sprintf("bench-%d", i), api.SettleBody{
			Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno},
			Operator: agent.Operator{ID: "D017", Type: protocol.OpterClerk},
			Bill: agent.Bill{VisitNo: fmt.Sprintf("MZ%d", i), DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
				{Code: "110200001", Class: "01", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(100), Amount: 100}}},
		})
		if err != nil || v.State != agent.StateSettled {
			b.Fatalf("settle %d: %v %s", i, err, v.State)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(base.Nanoseconds()), "bare-commit-ns")
	b.ReportMetric(float64(per)/float64(base), "x-bare-commit")
}

// assertLedgerSettlements checks how many active (not cancelled, not
// reversed) settlements the platform booked.
func assertLedgerSettlements(t *testing.T, s *stacktest.Stack, want int) {
	t.Helper()
	l, err := s.Sandbox.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, st := range l.Settlements {
		if !st.Cancelled && !st.Reversed {
			n++
		}
	}
	if n != want {
		t.Fatalf("the platform booked %d settlements; want %d", n, want)
	}
}

func TestReceiptCarriesAQRCodeOfTheSettlementID(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	v, err := s.API.Settle(context.Background(), "qr-receipt", withAmount(body(t, s, "bank-card", 0), 1500))
	if err != nil || v.State != agent.StateSettled {
		t.Fatal(err, v.State)
	}
	var png string
	if _, err := s.API.Do(context.Background(), "GET", "/v1/settlements/"+v.ID+"/receipt?format=qr", nil, nil, &png); err != nil {
		t.Fatal(err)
	}
	dec, err := imagecode.New(imagecode.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dec.Decode(strings.NewReader(png)); err != nil || got != v.ID {
		t.Fatalf("the receipt's QR reads %q, %v; want %s", got, err, v.ID)
	}
}
