package stacktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// dictEnv names a file to write the records of this test to, as the
// content of a new dictionary version for the journal's records
// (offline/journal/compress.go): the records the agent writes most, the
// most common last, as the history nearest to a record is the cheapest.
const dictEnv = "MEDTERM_WRITE_RECORD_DICT"

// What the journal holds per record: the real records of the real
// workflows against the sandbox, each compressed against the journal's
// dictionary and sealed, as the file stores it. A record that grows past
// its bound here grows every journal in the field by as much.
func TestJournalRecordsStaySmall(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Proxy: true})
	ctx := context.Background()
	if _, err := s.Service.FetchPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	type rec struct {
		what  string
		id    string
		bound int
	}
	var recs []rec
	settle := func(what, key string, b api.SettleBody, want agent.State, bound int) string {
		t.Helper()
		v, err := s.API.Settle(ctx, key, b)
		if err != nil || v.State != want {
			t.Fatalf("%s: %v %s %+v", what, err, v.State, v.Error)
		}
		recs = append(recs, rec{what, v.ID, bound})
		return v.ID
	}
	settle("declined", "r-declined", withAmount(body(t, s, "not-insured", 0), 3000), agent.StateDeclined, 500)
	settle("pending: no agreement", "r-pending", withAmount(body(t, s, "no-agreement", 0), 4200), agent.StateSettled, 650)
	settle("confirm first", "r-confirm", withAmount(body(t, s, "family-confirm", 0), 2600), agent.StateSettled, 700)
	refunded := settle("refunded", "r-refund", withAmount(body(t, s, "acct-first", 0), 1800), agent.StateSettled, 750)
	if v, err := s.API.Refund(ctx, refunded, api.RefundBody{Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk}, Reason: "退费"}); err != nil || v.State != agent.StateRefunded {
		t.Fatalf("refund: %v %s", err, v.State)
	}
	settle("settled online: credit line", "r-credit", withAmount(body(t, s, "credit-fallback", 0), 5100), agent.StateSettled, 650)
	settle("settled online: card", "r-card", cardBody(t, s, "bank-card", 2400), agent.StateSettled, 650)
	if err := s.Proxy.Refuse(); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"bank-card", "acct-first", "credit-fallback", "deductible-met"} {
		settle("deferred, then forwarded", fmt.Sprint("r-fwd-", i), cardBody(t, s, p, int64(1500+i*700)), agent.StateDeferred, 600)
	}
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	if left := s.Drain(t, 30e9); len(left) != 0 {
		t.Fatalf("%d not forwarded", len(left))
	}
	if err := s.Proxy.Refuse(); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"bank-card", "acct-first", "credit-fallback"} {
		settle("deferred", fmt.Sprint("r-def-", i), cardBody(t, s, p, int64(2100+i*300)), agent.StateDeferred, 420)
	}

	var content []byte
	for _, r := range recs {
		n, err := s.Journal.StoredSize(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Journal.Get(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		public, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-28s %-9s %5d B of JSON, %4d B stored", r.what, st.State, len(public), n)
		if n > r.bound {
			t.Errorf("%s: %d B stored; want at most %d", r.what, n, r.bound)
		}
		content = fmt.Appendf(content, `{"seq":%d,"settlement":%s,"personal":"","auth":1}`, len(content)%1000, public)
	}
	if path := os.Getenv(dictEnv); path != "" {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
