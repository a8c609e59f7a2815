package journal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// An upgrade from schema v4 (one payment per settlement) to v5 (an
// insurance leg and a payment leg) carries every bill over, and the
// upgraded agent drives on from where each stood: the backlog drained, the
// bill in doubt resent under its msgid, the rest as they were.
func TestAV4JournalUpgradesWithEveryBillAndDrainsItsBacklog(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"journal.db", "journal.key"} {
		b, err := os.ReadFile(filepath.Join("testdata", "v4", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	j := journaltest.MustOpenAt(t, filepath.Join(dir, "journal.db"), func(o *journal.Options) {
		o.KeyFile = filepath.Join(dir, "journal.key")
		o.Clock = clock.NewFake(journaltest.Start)
	})
	if j.Schema() != journal.LatestSchema() {
		t.Fatalf("schema v%d, want %d", j.Schema(), journal.LatestSchema())
	}
	// A copy of the file as v4 left it was kept, which the older medterm
	// opens: still at schema v4.
	_, err := journal.Open(filepath.Join(dir, "journal.db.v4.backup"), journal.Options{ReadOnly: true, KeyFile: filepath.Join(dir, "journal.key")})
	if !errors.Is(err, journal.ErrSchemaOld) || !strings.Contains(err.Error(), "schema v4") {
		t.Fatalf("the backup before the upgrade: %v; want a v4 journal", err)
	}
	ctx := context.Background()
	byKey := func(key string) *agent.Settlement {
		t.Helper()
		st, err := j.ByKey(ctx, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return st
	}
	settled := byKey("V4-SETTLED")
	if settled.State != agent.StateSettled || settled.Pay.Status != agent.PayNone || !settled.Split.Balanced() || settled.Msgids[agent.StepSettle] == "" || settled.Msgids["2207"] != "" {
		t.Fatalf("settled bill after the upgrade: %s pay %+v split %s msgids %v", settled.State, settled.Pay, settled.Split, settled.Msgids)
	}
	pending := byKey("V4-PENDING")
	if pending.Pay.Status != agent.PayPending || pending.Pay.Reason != agent.ReasonNoAgreement || pending.Pay.Amount != 1200 || pending.Split.Cash != 1200 || !pending.Split.Balanced() {
		t.Fatalf("pending bill after the upgrade: pay %+v split %s", pending.Pay, pending.Split)
	}
	doubt := byKey("V4-INDOUBT")
	lost := doubt.Msgids[agent.StepSettle]
	if doubt.State != agent.StateInDoubt || lost == "" {
		t.Fatalf("bill in doubt after the upgrade: %s %v", doubt.State, doubt.Msgids)
	}
	if personal := byKey("V4-DEFERRED-1").Personal; personal.Name != "林小梅" || personal.CardSN == "" {
		t.Fatalf("personal fields after the upgrade: %+v", personal)
	}

	ins, pay := agenttest.NewInsurance(), &agenttest.PayChannel{Clock: j.Clock}
	for _, n := range []string{"1", "2", "3"} {
		id := withCheck("4419001988021704" + n)
		ins.Model.AddPerson(id, "林小梅", "D4419632"+n, "441900D156000005A1B2C3D4E5F6071"+n)
		ins.Model.SetBalance(id, 0)
		pay.AddPatient(agenttest.PayPatient{IDNo: withCheck("4419001988021704" + n), Name: "林小梅", Sources: []agenttest.PayFunds{
			{PaySource: agent.PaySource{Kind: agent.SourceBankCard, Token: "tok-" + n}, Balance: money.CNY(1000)}}})
	}
	// The platform had booked the bill whose answer was lost: its resend
	// gets the booking (this platform knows nothing else of the old one).
	ins.SettleFunc = func(ctx context.Context, r agent.SplitRequest) (agent.Booking, error) {
		if r.Msgid != lost {
			return ins.Model.Settle(ctx, r)
		}
		fund := r.Total.Percent(70)
		return agent.Booking{SetlID: "S-" + lost, SetlDay: "2026-03-02 09:30:00",
			Split: agent.InsuranceSplit{Total: r.Total, Fund: fund, Cash: r.Total - fund}}, nil
	}
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: ins, Payment: pay, Clock: j.Clock, Offline: agent.DefaultOfflinePolicy()})
	if b, _ := svc.Backlog(ctx); b.Count != 2 || b.Amount != money.Fen(2*3300+2*880) {
		t.Fatalf("backlog after the upgrade %+v; want the two deferred bills", b)
	}
	list, err := svc.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if _, err := svc.Forward(ctx, st.ID); err != nil {
			t.Fatalf("forward %s: %v", st.IdempotencyKey, err)
		}
	}
	for _, key := range []string{"V4-DEFERRED-1", "V4-DEFERRED-2", "V4-INDOUBT"} {
		if st := byKey(key); st.State != agent.StateSettled || st.Pay.Status != agent.PayPaid {
			t.Errorf("%s after the drain: %s pay %+v; want settled and paid", key, st.State, st.Pay)
		}
	}
	if got := ins.Msgids("Settle"); len(got) == 0 || !slices.Contains(got, lost) {
		t.Errorf("the bill in doubt was settled under %v; want its stored msgid %s resent", got, lost)
	}
	if b, _ := svc.Backlog(ctx); b.Count != 0 {
		t.Errorf("backlog after the drain %+v", b)
	}
	// The state counts, made by the upgrade and kept since, are the
	// records' own.
	if counts, err := j.CountStates(ctx); err != nil || counts[agent.StateSettled] < 4 || counts[agent.StateDeferred] != 0 {
		t.Errorf("state counts after the drain: %v %v", counts, err)
	}
	if err := j.Verify(ctx); err != nil {
		t.Errorf("verify after the upgrade and the drain: %v", err)
	}
}
