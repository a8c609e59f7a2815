package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// These tests run the migration machinery with lists of their own: the
// released list has only the baseline, and a test cannot wait for a
// second release to prove that an upgrade works.

func testOptions(t *testing.T) (string, Options) {
	dir := t.TempDir()
	return filepath.Join(dir, "journal.db"), Options{
		KeyFile:     filepath.Join(dir, "keys", "journal.key"),
		Institution: "H44010600001",
		Slot:        3,
		IDPrefix:    "DESK01",
		Clock:       clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		LockTimeout: 100 * time.Millisecond,
		Logger:      slog.New(slog.DiscardHandler),
	}
}

func mustOpenWith(t *testing.T, path string, o Options, migs []migration) *Journal {
	t.Helper()
	j, err := open(path, o, migs)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return j
}

// counted returns migs with each apply counting its runs in runs[to].
func counted(migs []migration, runs map[int]int) []migration {
	out := make([]migration, len(migs))
	for i, m := range migs {
		inner := m
		m.apply, m.keyed = nil, func(j *Journal, tx *bolt.Tx) error {
			runs[m.to]++
			return inner.run(j, tx)
		}
		out[i] = m
	}
	return out
}

// byVisit is a synthetic v2: an index of settlements by the HIS's visit
// number, built from the records already in the file.
var byVisit = migration{to: 2, name: "index settlements by visit number", apply: func(tx *bolt.Tx) error {
	idx, err := tx.CreateBucket([]byte("by_visit"))
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSettlements).ForEach(func(k, v []byte) error {
		var rec struct {
			Settlement struct {
				Bill struct {
					VisitNo string `json:"visit_no"`
				} `json:"bill"`
			} `json:"settlement"`
		}
		plain, err := decompress(v)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(plain, &rec); err != nil {
			return err
		}
		return idx.Put([]byte(rec.Settlement.Bill.VisitNo+"\x00"+string(k)), k)
	})
}}

func accept(t *testing.T, j *Journal, key string) *agent.Settlement {
	t.Helper()
	s, _, err := j.Accept(context.Background(), &agent.Settlement{
		IdempotencyKey: key,
		Bill:           agent.Bill{VisitNo: "MZ-" + key},
		Personal:       agent.Personal{IDNo: "440101199001011234"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMigrationsAreConsecutive(t *testing.T) {
	for i, m := range migrations {
		if m.to != i+1 || m.name == "" || (m.apply == nil) == (m.keyed == nil) {
			t.Errorf("migration %d: to v%d, name %q; want to v%d, named, with one function", i, m.to, m.name, i+1)
		}
	}
}

func TestNewJournalRunsAndRecordsTheBaselineOnce(t *testing.T) {
	path, o := testOptions(t)
	runs := map[int]int{}
	migs := counted(v1Code, runs)
	j := mustOpenWith(t, path, o, migs)
	j.Close()
	j = mustOpenWith(t, path, o, migs)
	defer j.Close()
	if runs[1] != 1 {
		t.Errorf("baseline ran %d times, want 1", runs[1])
	}
	done, err := j.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[1] != migrations[0].name || j.Schema() != 1 {
		t.Errorf("schema v%d, recorded %v; want v1 with the baseline", j.Schema(), done)
	}
}

func TestOlderFileIsMigratedOnceAndRecorded(t *testing.T) {
	path, o := testOptions(t)
	v1 := mustOpenWith(t, path, o, v1Code)
	a, b := accept(t, v1, "his-1"), accept(t, v1, "his-2")
	v1.Close()

	runs := map[int]int{}
	v2 := counted(append(migrations[:1:1], byVisit), runs)
	j := mustOpenWith(t, path, o, v2)
	if runs[2] != 1 || j.Schema() != 2 {
		t.Fatalf("v2 migration ran %d times, schema v%d; want once, v2", runs[2], j.Schema())
	}
	var indexed []string
	j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("by_visit")).ForEach(func(_, v []byte) error {
			indexed = append(indexed, string(v))
			return nil
		})
	})
	if strings.Join(indexed, ",") != a.ID+","+b.ID {
		t.Errorf("v2 index holds %v, want both existing settlements", indexed)
	}
	if got, err := j.Get(context.Background(), a.ID); err != nil || got.Personal.IDNo != a.Personal.IDNo {
		t.Errorf("settlement after migration: %v, %v", got, err)
	}
	j.Close()

	j = mustOpenWith(t, path, o, v2)
	done, _ := j.Migrations()
	j.Close()
	if runs[2] != 1 {
		t.Errorf("v2 migration ran again on reopen: %d runs", runs[2])
	}
	if len(done) != 2 || done[2] != byVisit.name {
		t.Errorf("recorded migrations %v, want v1 and v2", done)
	}

	// The v1 code must not touch a v2 file, and says what to do.
	before, _ := os.ReadFile(path)
	_, err := open(path, o, v1Code)
	if !errors.Is(err, ErrSchemaTooNew) || !errors.Is(err, agent.ErrJournal) || !strings.Contains(err.Error(), "v2") || !strings.Contains(err.Error(), "up to v1") {
		t.Errorf("v1 code opening a v2 file: %v, want ErrSchemaTooNew naming both versions", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused open changed the file")
	}
}

func TestReadOnlyOpenDoesNotMigrate(t *testing.T) {
	path, o := testOptions(t)
	mustOpenWith(t, path, o, v1Code).Close()
	before, _ := os.ReadFile(path)
	ro := Options{KeyFile: o.KeyFile, ReadOnly: true}
	_, err := open(path, ro, append(migrations[:1:1], byVisit))
	if !errors.Is(err, ErrSchemaOld) || !strings.Contains(err.Error(), "start the daemon") {
		t.Errorf("read-only open of an older file: %v, want ErrSchemaOld saying how to migrate", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a read-only open changed the file")
	}
}

func TestFailedMigrationLeavesTheFileAtItsVersion(t *testing.T) {
	path, o := testOptions(t)
	v1 := mustOpenWith(t, path, o, v1Code)
	s := accept(t, v1, "his-1")
	v1.Close()

	boom := errors.New("disk said no")
	broken := migration{to: 2, name: "broken", apply: func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half")); err != nil {
			return err
		}
		return boom
	}}
	_, err := open(path, o, append(migrations[:1:1], broken))
	if !errors.Is(err, boom) || !errors.Is(err, agent.ErrJournal) || !strings.Contains(err.Error(), "v1 to v2") {
		t.Fatalf("open with a failing migration: %v", err)
	}
	j := mustOpenWith(t, path, o, v1Code)
	defer j.Close()
	if j.Schema() != 1 {
		t.Errorf("schema v%d after a failed migration, want v1", j.Schema())
	}
	j.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("half")) != nil {
			t.Error("the failed migration's bucket was kept")
		}
		return nil
	})
	if _, err := j.Get(context.Background(), s.ID); err != nil {
		t.Error(err)
	}
}

// A crash between writing a new file's metadata and its baseline leaves
// schema v0; the next open finishes the job.
func TestInterruptedCreationIsCompletedOnNextOpen(t *testing.T) {
	path, o := testOptions(t)
	crash := errors.New("power cut")
	_, err := open(path, o, []migration{{to: 1, name: "baseline", apply: func(*bolt.Tx) error { return crash }}})
	if !errors.Is(err, crash) {
		t.Fatalf("open: %v", err)
	}
	j := mustOpenWith(t, path, o, v1Code)
	defer j.Close()
	if j.Schema() != 1 {
		t.Fatalf("schema v%d, want v1", j.Schema())
	}
	accept(t, j, "his-1")
	if err := j.Verify(context.Background()); err != nil {
		t.Error(err)
	}
}

// v1Code is the journal code as it was released with schema v1: the tests
// above use it to show how any release migrates the files of the one
// before, with synthetic later migrations.
var v1Code = migrations[:1:1]

func TestV1FileGainsValuesAndCountersAndKeepsItsSettlements(t *testing.T) {
	path, o := testOptions(t)
	old := mustOpenWith(t, path, o, v1Code)
	a := accept(t, old, "his-1")
	old.Close()

	j := mustOpenWith(t, path, o, migrations)
	defer j.Close()
	if want := migrations[len(migrations)-1].to; j.Schema() != want {
		t.Fatalf("schema v%d after opening a v1 file; want v%d", j.Schema(), want)
	}
	got, err := j.Get(context.Background(), a.ID)
	if err != nil || got.Personal.IDNo != a.Personal.IDNo {
		t.Fatalf("settlement after the v2 migration: %v, %v", got, err)
	}
	ctx := context.Background()
	if err := j.SetValue(ctx, "policy", []byte("p1")); err != nil {
		t.Fatal(err)
	}
	if v, err := j.Value(ctx, "policy"); err != nil || string(v) != "p1" {
		t.Fatalf("value after migration: %q %v", v, err)
	}
	if err := j.Advance(ctx, "serial-1", 5); err != nil {
		t.Fatal(err)
	}
	if err := j.Advance(ctx, "serial-1", 5); !errors.Is(err, agent.ErrReplayed) {
		t.Fatalf("same counter again = %v; want ErrReplayed", err)
	}
	if err := j.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRecordsAreAuthenticatedAfterV3: a file written before v3 gets every
// record sealed again with its public fields in the associated data; after
// that a changed amount, state or an unauthenticated record is damage,
// reported, never served.
func TestRecordsAreAuthenticatedAfterV3(t *testing.T) {
	path, o := testOptions(t)
	old := mustOpenWith(t, path, o, migrations[:2:2])
	a := accept(t, old, "his-1")
	old.Close()
	j := mustOpenWith(t, path, o, migrations)
	if !j.authenticated {
		t.Fatal("records not authenticated after the v3 migration")
	}
	got, err := j.Get(context.Background(), a.ID)
	if err != nil || got.Personal.IDNo != a.Personal.IDNo {
		t.Fatalf("record after re-sealing: %v, %v", got, err)
	}
	j.Close()

	tamper := func(edit func(rec map[string]any)) {
		t.Helper()
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSettlements)
			var rec map[string]any
			plain, err := decompress(b.Get([]byte(a.ID)))
			if err != nil {
				return err
			}
			if err := json.Unmarshal(plain, &rec); err != nil {
				return err
			}
			edit(rec)
			data, _ := json.Marshal(rec)
			return b.Put([]byte(a.ID), data)
		}); err != nil {
			t.Fatal(err)
		}
	}
	tamper(func(rec map[string]any) {
		rec["settlement"].(map[string]any)["state"] = "refunded"
	})
	j = mustOpenWith(t, path, o, migrations)
	if _, err := j.Get(context.Background(), a.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a changed state was served: %v", err)
	}
	j.Close()
	tamper(func(rec map[string]any) {
		rec["settlement"].(map[string]any)["state"] = "accepted"
		delete(rec, "auth") // downgraded to the old form
	})
	j = mustOpenWith(t, path, o, migrations)
	defer j.Close()
	if _, err := j.Get(context.Background(), a.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an unauthenticated record was served: %v", err)
	}
}

func TestV7MsgidIndexBecomesRunsAndFindsEveryMsgid(t *testing.T) {
	path, o := testOptions(t)
	v7 := mustOpenWith(t, path, o, migrations[:7])
	three := func(s *agent.Settlement, ids agent.MsgidAllocator) error {
		s.Msgids = map[string]string{}
		for _, step := range []string{"1101", "2201", "2207"} {
			m, err := ids.Next()
			if err != nil {
				return err
			}
			s.Msgids[step] = m
		}
		return nil
	}
	var all []*agent.Settlement
	for _, key := range []string{"his-1", "his-2"} {
		s, _, err := v7.Accept(context.Background(), &agent.Settlement{IdempotencyKey: key, Personal: agent.Personal{IDNo: "440101199001011234"}}, three)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	signIn, err := v7.AllocateMsgid(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The index as schema 7 wrote it: one entry per msgid.
	if err := v7.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketByMsgid)
		for _, s := range all {
			for _, m := range s.Msgids {
				if err := b.Put([]byte(m), []byte(s.ID)); err != nil {
					return err
				}
			}
		}
		return b.Put([]byte(signIn), []byte(noSettlement))
	}); err != nil {
		t.Fatal(err)
	}
	v7.Close()

	j := mustOpenWith(t, path, o, migrations)
	defer j.Close()
	if n := MsgidEntries(j); n != 3 {
		t.Errorf("%d msgid index entries after the migration; want 3 runs: each settlement's and the sign-in's", n)
	}
	for _, s := range all {
		for _, m := range s.Msgids {
			if got, err := j.ByMsgid(context.Background(), m); err != nil || got.ID != s.ID {
				t.Errorf("ByMsgid(%s) = %v, %v; want %s", m, got, err, s.ID)
			}
		}
	}
	if _, err := j.ByMsgid(context.Background(), signIn); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("the sign-in's msgid: %v, want ErrNotFound", err)
	}
	if err := j.Verify(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestV8RecordsOfEndedSettlementsMoveApart(t *testing.T) {
	path, o := testOptions(t)
	v8 := mustOpenWith(t, path, o, migrations[:8])
	a, b, c := accept(t, v8, "his-1"), accept(t, v8, "his-2"), accept(t, v8, "his-3")
	for id, state := range map[string]agent.State{a.ID: agent.StateSettled, c.ID: agent.StateDeclined, b.ID: agent.StateDeferred} {
		if _, err := v8.Update(context.Background(), id, func(st *agent.Settlement, _ agent.MsgidAllocator) error {
			st.State = state
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := RecordBucket(v8, a.ID); got != "settlements" {
		t.Fatalf("at schema 8 the record is in %q", got)
	}
	v8.Close()

	j := mustOpenWith(t, path, o, migrations)
	defer j.Close()
	for id, want := range map[string]string{a.ID: "ended", b.ID: "settlements", c.ID: "ended"} {
		if got := RecordBucket(j, id); got != want {
			t.Errorf("%s in %q after the migration, want %q", id, got, want)
		}
		if _, err := j.Get(context.Background(), id); err != nil {
			t.Error(err)
		}
	}
	if err := j.Verify(context.Background()); err != nil {
		t.Error(err)
	}
	// A record in the wrong place is a damaged file, and Verify says so.
	if err := j.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketSettlements)
		v := bytes.Clone(recs.Get([]byte(b.ID)))
		if err := recs.Delete([]byte(b.ID)); err != nil {
			return err
		}
		seq, _ := seqOfID([]byte(b.ID))
		if err := tx.Bucket(bucketBySeq).Put(encodeSeq(seq), seqValue(99, []byte(b.ID))); err != nil {
			return err
		}
		return tx.Bucket(bucketEndedRecords).Put(encodeSeq(99), v)
	}); err != nil {
		t.Fatal(err)
	}
	if err := j.Verify(context.Background()); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), b.ID) {
		t.Errorf("Verify with a deferred bill's record among the ended: %v", err)
	}
}

func TestV9EndedRecordsAreKeyedByTheOrderTheyEnded(t *testing.T) {
	path, o := testOptions(t)
	// Written at schema 8, then brought to 9: its ended records by id.
	v8 := mustOpenWith(t, path, o, migrations[:8])
	a, b, c := accept(t, v8, "his-1"), accept(t, v8, "his-2"), accept(t, v8, "his-3")
	for _, id := range []string{c.ID, a.ID} {
		if _, err := v8.Update(context.Background(), id, func(st *agent.Settlement, _ agent.MsgidAllocator) error {
			st.State = agent.StateSettled
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	v8.Close()
	v9 := mustOpenWith(t, path, o, migrations[:9])
	if err := v9.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketEnded).Stats().KeyN; n != 2 {
			t.Errorf("at schema 9, %d ended records by id, want 2", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v9.Close()

	j := mustOpenWith(t, path, o, migrations)
	defer j.Close()
	// The order they ended in at schema 9 is not known: id order stands
	// for it, and what ends after the upgrade comes after them.
	if _, err := j.Update(context.Background(), b.ID, func(st *agent.Settlement, _ agent.MsgidAllocator) error {
		st.State = agent.StateDeclined
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := EndedOrder(j), []string{a.ID, c.ID, b.ID}; !slices.Equal(got, want) {
		t.Errorf("ended records kept as %v, want %v", got, want)
	}
	if err := j.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnded) != nil {
			t.Error("the schema 9 bucket of ended records is still there")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*agent.Settlement{a, b, c} {
		if got, err := j.Get(context.Background(), s.ID); err != nil || got.State.Terminal() != true {
			t.Errorf("Get %s: %v, %v", s.ID, got, err)
		}
	}
	if err := j.Verify(context.Background()); err != nil {
		t.Error(err)
	}
	// An ended record nothing leads to is a damaged file too.
	if err := j.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEndedRecords).Put(encodeSeq(77), []byte("stray"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := j.Verify(context.Background()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify with an ended record no id leads to: %v", err)
	}
}
