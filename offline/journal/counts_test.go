package journal_test

import (
	"encoding/binary"
	"errors"
	"maps"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// The counts per state follow every accept and every move, and an update
// that fails moves nothing; they survive a reopen.
func TestStateCountsFollowEveryMove(t *testing.T) {
	j := journaltest.MustOpen(t)
	a, b, c := mustAccept(t, j, "a"), mustAccept(t, j, "b"), mustAccept(t, j, "c")
	finish(t, j, a.ID, agent.StateDeferred)
	finish(t, j, b.ID, agent.StateDeferred)
	finish(t, j, b.ID, agent.StateSettled)
	refused := errors.New("refused by the caller")
	if _, err := j.Update(ctx, c.ID, func(s *agent.Settlement, _ agent.MsgidAllocator) error {
		s.State = agent.StateSettled
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("update: %v", err)
	}
	want := map[agent.State]int{agent.StateDeferred: 1, agent.StateSettled: 1, agent.StateAccepted: 1}
	check := func(when string) {
		t.Helper()
		got, err := j.CountStates(ctx)
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("%s: counts %v, %v; want %v", when, got, err, want)
		}
	}
	check("after the moves")
	j.MustReopen()
	check("after a reopen")
	j.MustVerify()
}

// Archived settlements leave the counts with the journal.
func TestArchivedSettlementsLeaveTheCounts(t *testing.T) {
	j := journaltest.MustOpen(t)
	old := mustAccept(t, j, "old")
	finish(t, j, old.ID, agent.StateSettled)
	j.Clock.Advance(181 * 24 * time.Hour)
	mustAccept(t, j, "new")
	if n, err := j.Archive(ctx, j.Clock.Now().Add(-180*24*time.Hour), t.TempDir()+"/archive.db", 0); err != nil || n != 1 {
		t.Fatalf("archive: %d %v", n, err)
	}
	if got, _ := j.CountStates(ctx); !maps.Equal(got, map[agent.State]int{agent.StateAccepted: 1}) {
		t.Fatalf("counts after the archive %v; want the one accepted bill", got)
	}
	j.MustVerify()
}

// A count changed outside medterm is found by the check, as a stale index
// entry is.
func TestVerifyFindsACountThatIsNotTheIndexs(t *testing.T) {
	j := journaltest.MustOpen(t)
	mustAccept(t, j, "a")
	j.MustClose()
	db, err := bolt.Open(j.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("state_counts")).Put([]byte(agent.StateAccepted), binary.BigEndian.AppendUint64(nil, 7))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	j.MustReopen()
	if err := j.Verify(ctx); !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("verify with a forged count: %v; want ErrCorrupt", err)
	}
}
