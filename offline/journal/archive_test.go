package journal_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

func finish(t *testing.T, j *journaltest.Journal, id string, state agent.State) {
	t.Helper()
	if _, err := j.Update(ctx, id, func(s *agent.Settlement, _ agent.MsgidAllocator) error {
		s.State, s.UpdatedAt = state, j.Clock.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestArchiveMovesOnlyOldFinishedSettlementsAndKeepsThemReadable(t *testing.T) {
	j := journaltest.MustOpen(t)
	old := mustAccept(t, j, "old")
	finish(t, j, old.ID, agent.StateSettled)
	arrears := mustAccept(t, j, "arrears")
	finish(t, j, arrears.ID, agent.StateArrears)
	unfinished := mustAccept(t, j, "in-doubt")
	finish(t, j, unfinished.ID, agent.StateInDoubt)
	j.Clock.Advance(181 * 24 * time.Hour)
	recent := mustAccept(t, j, "recent")
	finish(t, j, recent.ID, agent.StateSettled)

	archive := filepath.Join(t.TempDir(), "archive.db")
	n, err := j.Archive(ctx, j.Clock.Now().Add(-180*24*time.Hour), archive, 0)
	if err != nil || n != 1 {
		t.Fatalf("Archive = %d, %v; want the one old settled bill", n, err)
	}
	if _, err := j.Get(ctx, old.ID); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("archived settlement still in the journal: %v", err)
	}
	for _, id := range []string{arrears.ID, unfinished.ID, recent.ID} {
		if _, err := j.Get(ctx, id); err != nil {
			t.Fatalf("%s left the journal: %v", id, err)
		}
	}
	got, err := j.Archived(ctx, archive, old.ID)
	if err != nil || got.Personal.IDNo != old.Personal.IDNo || got.State != agent.StateSettled {
		t.Fatalf("archived copy: %+v, %v", got, err)
	}
	if !j.CompactDue(ctx) {
		t.Fatal("archiving did not ask for a compaction")
	}
	j.MustVerify()
	// Archiving again moves nothing more.
	if n, err := j.Archive(ctx, j.Clock.Now().Add(-180*24*time.Hour), archive, 0); err != nil || n != 0 {
		t.Fatalf("second Archive = %d, %v", n, err)
	}
}

// The archive keeps records as densely as the journal's ended records:
// moving them there saves the journal's pages without growing the disk's.
func TestTheArchiveIsNoBiggerThanTheRecordsItHolds(t *testing.T) {
	j := journaltest.MustOpen(t)
	const n = 400
	for i := range n {
		s := mustAccept(t, j, fmt.Sprint("k", i))
		finish(t, j, s.ID, agent.StateSettled)
	}
	inJournal := journal.EndedPages(j.Journal)
	j.Clock.Advance(200 * 24 * time.Hour)
	path := filepath.Join(t.TempDir(), "archive.db")
	if moved, err := j.Archive(ctx, j.Clock.Now().Add(-180*24*time.Hour), path, 0); err != nil || moved != n {
		t.Fatalf("Archive = %d, %v", moved, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var inArchive int
	db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket([]byte("settlements")).Stats()
		inArchive = st.LeafAlloc + st.BranchAlloc
		return nil
	})
	t.Logf("%d records: %d B of pages in the archive, %d B in the journal", n, inArchive, inJournal)
	if inArchive > inJournal*11/10 {
		t.Errorf("%d records take %d B of pages in the archive, %d B in the journal", n, inArchive, inJournal)
	}
}

func TestCompactionGivesTheSpaceBackAndKeepsEverything(t *testing.T) {
	j := journaltest.MustOpen(t)
	var keep *agent.Settlement
	for i := 0; i < 400; i++ {
		s := mustAccept(t, j, fmt.Sprint("k", i))
		finish(t, j, s.ID, agent.StateSettled)
		keep = s
	}
	j.Clock.Advance(200 * 24 * time.Hour)
	last := mustAccept(t, j, "last")
	if _, err := j.Archive(ctx, j.Clock.Now().Add(-180*24*time.Hour), filepath.Join(t.TempDir(), "a.db"), 0); err != nil {
		t.Fatal(err)
	}
	j.MustClose()
	before, after, err := journal.Compact(j.Path, j.Options)
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Fatalf("compaction: %d bytes before, %d after", before, after)
	}
	j.MustReopen()
	if _, err := j.Get(ctx, last.ID); err != nil {
		t.Fatalf("the kept settlement after compaction: %v", err)
	}
	if _, err := j.Get(ctx, keep.ID); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("an archived settlement came back: %v", err)
	}
	if j.CompactDue(ctx) {
		t.Fatal("the compact request was not cleared")
	}
	j.MustVerify()
	if _, err := os.Stat(j.Path + ".compact"); !os.IsNotExist(err) {
		t.Fatal("the temporary copy was left behind")
	}
}

func TestCompactRefusesAJournalInUse(t *testing.T) {
	j := journaltest.MustOpen(t)
	o := j.Options
	o.LockTimeout = 50 * time.Millisecond
	if _, _, err := journal.Compact(j.Path, o); !errors.Is(err, agent.ErrJournalLocked) {
		t.Fatalf("Compact of an open journal = %v; want the lock error", err)
	}
}
