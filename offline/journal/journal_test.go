package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

var ctx = context.Background()

// settleSteps allocates one msgid per transaction of an online settlement,
// as the workflow does when it accepts a bill.
func settleSteps(s *agent.Settlement, ids agent.MsgidAllocator) error {
	s.Msgids = map[string]string{}
	for _, infno := range []string{"1101", "2201", "2204", "2206", "2207"} {
		m, err := ids.Next()
		if err != nil {
			return err
		}
		s.Msgids[infno] = m
	}
	return nil
}

func mustAccept(t *testing.T, j *journaltest.Journal, key string) *agent.Settlement {
	t.Helper()
	s, created, err := j.Accept(ctx, journaltest.Settlement(key), settleSteps)
	if err != nil {
		t.Fatalf("accept %s: %v", key, err)
	}
	if !created {
		t.Fatalf("accept %s: not created", key)
	}
	return s
}

// assertSame compares settlements by their stored form: times decoded from
// JSON carry an equal instant in another *time.Location.
func assertSame(t *testing.T, got, want *agent.Settlement) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("settlement differs:\n got %s\nwant %s", g, w)
	}
	if got.Personal != want.Personal {
		t.Errorf("personal fields differ: got %+v, want %+v", got.Personal, want.Personal)
	}
}

func TestAcceptedSettlementSurvivesReopen(t *testing.T) {
	j := journaltest.MustOpen(t)
	in := journaltest.Settlement("his-1")
	stored, created, err := j.Accept(ctx, in, settleSteps)
	if err != nil || !created {
		t.Fatalf("Accept = created %v, %v", created, err)
	}
	if stored.ID != "TEST01-00000001" || in.ID != stored.ID {
		t.Errorf("ids: stored %q, caller's %q; want TEST01-00000001 for both", stored.ID, in.ID)
	}
	if len(stored.Msgids) != 5 {
		t.Errorf("prepare's msgids not kept: %v", stored.Msgids)
	}
	j.MustReopen()
	got, err := j.Get(ctx, stored.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, stored)
	if got.Personal != journaltest.Personal {
		t.Errorf("personal fields after reopen: %+v", got.Personal)
	}
	j.MustVerify()
}

func TestAcceptFillsWhatTheCallerLeftOut(t *testing.T) {
	j := journaltest.MustOpen(t)
	in := journaltest.Settlement("his-1")
	in.State, in.CreatedAt, in.UpdatedAt = "", time.Time{}, time.Time{}
	s, _, err := j.Accept(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != agent.StateAccepted || !s.CreatedAt.Equal(journaltest.Start) || !s.UpdatedAt.Equal(journaltest.Start) {
		t.Errorf("state %q, created %v, updated %v; want accepted at the journal clock's %v", s.State, s.CreatedAt, s.UpdatedAt, journaltest.Start)
	}
}

func TestIDsContinueAcrossReopen(t *testing.T) {
	j := journaltest.MustOpen(t)
	var ids []string
	for i := range 4 {
		if i == 2 {
			j.MustReopen()
		}
		ids = append(ids, mustAccept(t, j, fmt.Sprint("his-", i)).ID)
	}
	want := []string{"TEST01-00000001", "TEST01-00000002", "TEST01-00000003", "TEST01-00000004"}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
}

func TestAcceptUnderAStoredKeyReturnsTheStoredSettlement(t *testing.T) {
	j := journaltest.MustOpen(t)
	first := mustAccept(t, j, "his-1")
	j.MustReopen()
	again := journaltest.Settlement("his-1")
	called := false
	got, created, err := j.Accept(ctx, again, func(*agent.Settlement, agent.MsgidAllocator) error {
		called = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if created || called {
		t.Errorf("created %v, prepare called %v; want neither for a repeated key", created, called)
	}
	assertSame(t, got, first)
	if again.ID != "" {
		t.Errorf("a repeated request's settlement was given id %q", again.ID)
	}
	if all, _ := j.List(ctx, agent.ListFilter{}); len(all) != 1 {
		t.Errorf("%d settlements stored, want 1", len(all))
	}
}

func TestAcceptUnderAStoredKeyWithAnotherBillConflicts(t *testing.T) {
	j := journaltest.MustOpen(t)
	first := mustAccept(t, j, "his-1")
	other := journaltest.Settlement("his-1")
	other.Fingerprint = "sha256:another bill"
	other.Bill.Items = other.Bill.Items[:1]
	got, created, err := j.Accept(ctx, other, settleSteps)
	if !errors.Is(err, agent.ErrIdempotencyConflict) {
		t.Fatalf("Accept = %v, %v, %v; want ErrIdempotencyConflict", got, created, err)
	}
	if got != nil || created {
		t.Errorf("conflict returned settlement %v, created %v", got, created)
	}
	stored, err := j.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, stored, first)
}

func TestAcceptRefusesBadInput(t *testing.T) {
	long := journaltest.Settlement(string(make([]byte, journal.MaxKeyLen+1)))
	cases := []struct {
		name string
		s    *agent.Settlement
	}{
		{"no settlement", nil},
		{"no idempotency key", journaltest.Settlement("")},
		{"overlong idempotency key", long},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := journaltest.MustOpen(t)
			if _, _, err := j.Accept(ctx, c.s, nil); !errors.Is(err, agent.ErrInvalid) {
				t.Fatalf("Accept error %v, want ErrInvalid", err)
			}
			if all, _ := j.List(ctx, agent.ListFilter{}); len(all) != 0 {
				t.Errorf("%d settlements stored after refused input", len(all))
			}
		})
	}
}

func TestAcceptWhosePrepareFailsStoresNothing(t *testing.T) {
	j := journaltest.MustOpen(t)
	boom := errors.New("prepare failed")
	in := journaltest.Settlement("his-1")
	var lost string
	_, _, err := j.Accept(ctx, in, func(s *agent.Settlement, ids agent.MsgidAllocator) error {
		lost, _ = ids.Next()
		s.Msgids = map[string]string{"2207": lost}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Accept error %v, want prepare's error", err)
	}
	if errors.Is(err, agent.ErrJournal) {
		t.Errorf("the caller's own error was reported as a journal failure: %v", err)
	}
	if in.ID != "" || in.Msgids != nil {
		t.Errorf("caller's settlement changed: id %q, msgids %v", in.ID, in.Msgids)
	}
	if _, err := j.ByKey(ctx, "his-1"); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("key stored after a failed accept: %v", err)
	}
	if _, err := j.ByMsgid(ctx, lost); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("msgid indexed after a failed accept: %v", err)
	}
	// The sequence and the msgid clock rolled back with the transaction:
	// the next settlement takes the first id.
	if s := mustAccept(t, j, "his-2"); s.ID != "TEST01-00000001" {
		t.Errorf("next id %s, want TEST01-00000001", s.ID)
	}
	j.MustVerify()
}

func TestUpdateStoresTheChangeDurably(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := mustAccept(t, j, "his-1")
	j.Clock.Advance(3 * time.Second)
	now := j.Clock.Now()
	updated, err := j.Update(ctx, s.ID, func(s *agent.Settlement, _ agent.MsgidAllocator) error {
		s.State, s.UpdatedAt = agent.StateSettled, now
		s.SetlID = "SETL0001"
		s.Personal.AccountNo = "6217000000000000017"
		s.Events = append(s.Events, agent.Event{At: now, State: agent.StateSettled})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	j.MustReopen()
	got, err := j.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, updated)
	if got.State != agent.StateSettled || got.SetlID != "SETL0001" {
		t.Errorf("state %s, setl_id %q after reopen", got.State, got.SetlID)
	}
	j.MustVerify()
}

func TestUpdateWhoseFnFailsStoresNothing(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := mustAccept(t, j, "his-1")
	boom := errors.New("platform said no")
	var lost string
	_, err := j.Update(ctx, s.ID, func(s *agent.Settlement, ids agent.MsgidAllocator) error {
		lost, _ = ids.Next()
		s.Msgids["2208"] = lost
		s.State = agent.StateRefunding
		s.Personal.Name = "changed"
		return boom
	})
	if !errors.Is(err, boom) || errors.Is(err, agent.ErrJournal) {
		t.Fatalf("Update error %v, want fn's own error", err)
	}
	got, err := j.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, s)
	if refunding, _ := j.List(ctx, agent.ListFilter{States: []agent.State{agent.StateRefunding}}); len(refunding) != 0 {
		t.Errorf("state index moved by a failed update")
	}
	if _, err := j.ByMsgid(ctx, lost); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("msgid from a failed update was indexed: %v", err)
	}
	j.MustVerify()
}

func TestUpdateRefuses(t *testing.T) {
	cases := []struct {
		name string
		id   func(stored string) string
		fn   func(*agent.Settlement, agent.MsgidAllocator) error
		want error
	}{
		{"a missing settlement", func(string) string { return "TEST01-00000099" },
			func(*agent.Settlement, agent.MsgidAllocator) error { return nil }, agent.ErrNotFound},
		{"no function", func(id string) string { return id }, nil, agent.ErrInvalid},
		{"a changed id", func(id string) string { return id },
			func(s *agent.Settlement, _ agent.MsgidAllocator) error { s.ID = "TEST01-00000002"; return nil }, agent.ErrInvalid},
		{"a changed idempotency key", func(id string) string { return id },
			func(s *agent.Settlement, _ agent.MsgidAllocator) error { s.IdempotencyKey = "other"; return nil }, agent.ErrInvalid},
		{"a changed fingerprint", func(id string) string { return id },
			func(s *agent.Settlement, _ agent.MsgidAllocator) error { s.Fingerprint = "other"; return nil }, agent.ErrInvalid},
		{"an empty state", func(id string) string { return id },
			func(s *agent.Settlement, _ agent.MsgidAllocator) error { s.State = ""; return nil }, agent.ErrInvalid},
		{"another settlement's msgid", func(id string) string { return id },
			func(s *agent.Settlement, _ agent.MsgidAllocator) error { s.Msgids["2208"] = "__OTHER__"; return nil }, agent.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := journaltest.MustOpen(t)
			s := mustAccept(t, j, "his-1")
			other := mustAccept(t, j, "his-2")
			fn := c.fn
			if fn != nil {
				// "__OTHER__" stands for a msgid the other settlement owns.
				inner := fn
				fn = func(s *agent.Settlement, ids agent.MsgidAllocator) error {
					err := inner(s, ids)
					for k, v := range s.Msgids {
						if v == "__OTHER__" {
							s.Msgids[k] = other.Msgids["2207"]
						}
					}
					return err
				}
			}
			if _, err := j.Update(ctx, c.id(s.ID), fn); !errors.Is(err, c.want) {
				t.Fatalf("Update error %v, want %v", err, c.want)
			}
			got, err := j.Get(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, got, s)
			j.MustVerify()
		})
	}
}

func TestGetMissingIsNotFound(t *testing.T) {
	j := journaltest.MustOpen(t)
	if _, err := j.Get(ctx, "TEST01-00000001"); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("Get error %v, want ErrNotFound", err)
	}
	if _, err := j.ByKey(ctx, "his-1"); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("ByKey error %v, want ErrNotFound", err)
	}
}

func TestListNewestFirstFilteredByState(t *testing.T) {
	j := journaltest.MustOpen(t)
	// Six settlements; their states, by id suffix 1..6.
	states := []agent.State{agent.StateSettled, agent.StateInDoubt, agent.StateSettled, agent.StateAccepted, agent.StateInDoubt, agent.StateSettled}
	for i, st := range states {
		s := mustAccept(t, j, fmt.Sprint("his-", i+1))
		if st == agent.StateAccepted {
			continue
		}
		// Through settling, so the state index has moved more than once.
		for _, step := range []agent.State{agent.StateSettling, st} {
			if _, err := j.Update(ctx, s.ID, func(s *agent.Settlement, _ agent.MsgidAllocator) error {
				s.State = step
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		filter agent.ListFilter
		want   []int
	}{
		{"everything", agent.ListFilter{}, []int{6, 5, 4, 3, 2, 1}},
		{"newest two", agent.ListFilter{Limit: 2}, []int{6, 5}},
		{"limit above the count", agent.ListFilter{Limit: 10}, []int{6, 5, 4, 3, 2, 1}},
		{"one state", agent.ListFilter{States: []agent.State{agent.StateSettled}}, []int{6, 3, 1}},
		{"two states merged by age", agent.ListFilter{States: []agent.State{agent.StateSettled, agent.StateInDoubt}}, []int{6, 5, 3, 2, 1}},
		{"two states, limited", agent.ListFilter{States: []agent.State{agent.StateInDoubt, agent.StateSettled}, Limit: 3}, []int{6, 5, 3}},
		{"a state repeated", agent.ListFilter{States: []agent.State{agent.StateInDoubt, agent.StateInDoubt}}, []int{5, 2}},
		{"a state passed through", agent.ListFilter{States: []agent.State{agent.StateSettling}}, nil},
		{"a state nobody is in", agent.ListFilter{States: []agent.State{agent.StateRefunded}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := j.List(ctx, c.filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
			}
			var want []string
			for _, n := range c.want {
				want = append(want, fmt.Sprintf("TEST01-%08d", n))
			}
			if !slices.Equal(ids, want) {
				t.Errorf("List(%+v) = %v, want %v", c.filter, ids, want)
			}
		})
	}
	if _, err := j.List(ctx, agent.ListFilter{Limit: -1}); !errors.Is(err, agent.ErrInvalid) {
		t.Errorf("negative limit: %v, want ErrInvalid", err)
	}
	j.MustVerify()
}

func TestClosedJournalReportsAJournalError(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := mustAccept(t, j, "his-1")
	db := j.Journal
	j.MustClose()
	if _, err := db.Get(ctx, s.ID); !errors.Is(err, agent.ErrJournal) {
		t.Errorf("Get on a closed journal: %v, want ErrJournal", err)
	}
	if _, _, err := db.Accept(ctx, journaltest.Settlement("his-2"), nil); !errors.Is(err, agent.ErrJournal) {
		t.Errorf("Accept on a closed journal: %v, want ErrJournal", err)
	}
}

func TestCancelledContextStopsBeforeTheTransaction(t *testing.T) {
	j := journaltest.MustOpen(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := j.Accept(cctx, journaltest.Settlement("his-1"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Accept: %v, want context.Canceled", err)
	}
	if all, _ := j.List(ctx, agent.ListFilter{}); len(all) != 0 {
		t.Errorf("stored %d settlements under a cancelled context", len(all))
	}
}

// Ended records are kept in the order they ended in, whatever the order
// they were accepted in: each is appended after the last, into a page
// that has room, never into the middle of a full one.
func TestEndedRecordsAreKeptInTheOrderTheyEnded(t *testing.T) {
	j := journaltest.MustOpen(t)
	a, b, c := mustAccept(t, j, "his-1"), mustAccept(t, j, "his-2"), mustAccept(t, j, "his-3")
	end := func(id string, state agent.State) {
		t.Helper()
		if _, err := j.Update(ctx, id, func(st *agent.Settlement, _ agent.MsgidAllocator) error {
			st.State = state
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	end(c.ID, agent.StateSettled)
	end(a.ID, agent.StateDeclined)
	end(b.ID, agent.StateSettled)
	if got, want := journal.EndedOrder(j.Journal), []string{c.ID, a.ID, b.ID}; !slices.Equal(got, want) {
		t.Fatalf("ended records kept as %v, want %v", got, want)
	}
	// A refund takes a record back under way; at its end again it goes
	// after the others.
	end(c.ID, agent.StateRefunding)
	end(c.ID, agent.StateRefunded)
	if got, want := journal.EndedOrder(j.Journal), []string{a.ID, b.ID, c.ID}; !slices.Equal(got, want) {
		t.Fatalf("after the refund, ended records kept as %v, want %v", got, want)
	}
	for _, s := range []*agent.Settlement{a, b, c} {
		if got, err := j.Get(ctx, s.ID); err != nil || got.ID != s.ID {
			t.Errorf("Get %s: %v, %v", s.ID, got, err)
		}
	}
	j.MustVerify()
}

// A record moves to the ended settlements with the write that ends it,
// back under way with a refund, and to the ended ones again; wherever it
// is, it is found, listed and verified.
func TestARecordIsKeptUnderWayOrEndedAsItsStateSays(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := mustAccept(t, j, "his-1")
	in := func(want string) {
		t.Helper()
		if got := journal.RecordBucket(j.Journal, s.ID); got != want {
			t.Fatalf("record in %q, want %q", got, want)
		}
		if got, err := j.Get(ctx, s.ID); err != nil || got.ID != s.ID {
			t.Fatalf("Get: %v, %v", got, err)
		}
		if l, err := j.List(ctx, agent.ListFilter{}); err != nil || len(l) != 1 {
			t.Fatalf("List: %v, %v", l, err)
		}
		j.MustVerify()
	}
	in("settlements")
	for _, step := range []struct {
		state agent.State
		where string
	}{{agent.StateDeferred, "settlements"}, {agent.StateSettled, "ended"}, {agent.StateRefunding, "settlements"}, {agent.StateRefunded, "ended"}} {
		if _, err := j.Update(ctx, s.ID, func(st *agent.Settlement, _ agent.MsgidAllocator) error {
			st.State = step.state
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		in(step.where)
	}
	j.MustReopen()
	in("ended")
}
