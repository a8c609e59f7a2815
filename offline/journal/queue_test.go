package journal_test

import (
	"errors"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// The queue is read from the state index alone and says what the
// forwarder and the backlog need, as the records do: the oldest first
// across states, each entry following its settlement's updates.
func TestTheQueueFollowsTheRecordsOldestFirstAcrossStates(t *testing.T) {
	j := journaltest.MustOpen(t)
	var ids []string
	for i, key := range []string{"q-1", "q-2", "q-3"} {
		s := journaltest.Settlement(key)
		s.PatientRef = "patient-" + key
		st, _, err := j.Accept(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.ID)
		at := journaltest.Start.Add(time.Duration(i) * time.Minute)
		state := agent.StateDeferred
		if i == 1 {
			state = agent.StateInDoubt
		}
		if _, err := j.Update(ctx, st.ID, func(s *agent.Settlement, _ agent.MsgidAllocator) error {
			s.State, s.DeferredAt, s.NextTry = state, at, at.Add(time.Hour)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The next try moves without a change of state.
	if _, err := j.Update(ctx, ids[2], func(s *agent.Settlement, _ agent.MsgidAllocator) error {
		s.NextTry = journaltest.Start.Add(5 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := j.Queued(ctx, []agent.State{agent.StateInDoubt, agent.StateDeferred}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("queue: %+v", got)
	}
	// A page at a time: after a settlement, at most so many, across the
	// states, in the order they were accepted.
	if page, err := j.Queued(ctx, []agent.State{agent.StateInDoubt, agent.StateDeferred}, ids[0], 1); err != nil || len(page) != 1 || page[0].ID != ids[1] {
		t.Errorf("the page after %s: %+v, %v; want %s alone", ids[0], page, err, ids[1])
	}
	if page, err := j.Queued(ctx, []agent.State{agent.StateInDoubt, agent.StateDeferred}, ids[2], 5); err != nil || len(page) != 0 {
		t.Errorf("the page after the last: %+v, %v", page, err)
	}
	if _, err := j.Queued(ctx, []agent.State{agent.StateDeferred}, "not-an-id", 5); !errors.Is(err, agent.ErrInvalid) {
		t.Errorf("a page after a stranger's id: %v", err)
	}
	for i, q := range got {
		s, err := j.Get(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if want := agent.QueueOf(s); q.ID != want.ID || q.State != want.State || q.PatientRef != want.PatientRef ||
			!q.NextTry.Equal(want.NextTry) || q.Amount != want.Amount || !q.DeferredAt.Equal(want.DeferredAt) {
			t.Errorf("queue entry %d: %+v; the record says %+v", i, q, want)
		}
	}
	if !got[2].NextTry.Equal(journaltest.Start.Add(5 * time.Hour)) {
		t.Errorf("the moved next try: %v", got[2].NextTry)
	}
	j.MustVerify()
}

// A settlement at its end waits in no queue and keeps no entry, yet is
// listed like every other when asked for.
func TestASettlementAtItsEndIsListedWithoutAnEntry(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := journaltest.Settlement("done")
	s.PatientRef = "patient-done"
	st, _, err := j.Accept(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	finish(t, j, st.ID, agent.StateSettled)
	got, err := j.Queued(ctx, []agent.State{agent.StateSettled}, "", 0)
	if err != nil || len(got) != 1 || got[0].ID != st.ID || got[0].State != agent.StateSettled || got[0].PatientRef != "patient-done" {
		t.Fatalf("queued settled: %+v, %v", got, err)
	}
	list, err := j.List(ctx, agent.ListFilter{States: []agent.State{agent.StateSettled}})
	if err != nil || len(list) != 1 || list[0].ID != st.ID {
		t.Fatalf("list settled: %d, %v", len(list), err)
	}
	j.MustVerify()
}
