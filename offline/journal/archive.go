package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// archivable are the states a settlement can leave the journal in: nothing
// more will happen to it. Arrears stay until the hospital has collected
// them; anything unfinished stays until it is finished.
var archivable = []agent.State{agent.StateSettled, agent.StateRefunded, agent.StateDeclined, agent.StateVoided}

// compactDue is the value that asks the next start to compact the file.
const compactDue = "compact:due"

// Archive moves the settlements that reached a final state before before
// into the archive file at path (a bbolt file of the same sealed records,
// readable with the same key), at most limit of them, and returns how
// many moved. The archive is written and synced first and the journal's
// copy removed after, so a crash in between leaves a record in both
// places, never in neither; the next run removes it. An archive written
// before schema v4 has its fingerprints keyed by the first call, whether
// or not anything moves.
func (j *Journal) Archive(ctx context.Context, before time.Time, path string, limit int) (int, error) {
	type moving struct {
		id, key string
		seq     uint64
		state   agent.State
		msgids  []string
		data    []byte
		slot    []byte // its state index key
	}
	var batch []moving
	err := j.read(ctx, "archive: select", func(t *tx) error {
		for _, st := range archivable {
			c := t.byState.Cursor()
			prefix := append([]byte(st), 0)
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if limit > 0 && len(batch) >= limit {
					return nil
				}
				id := stateValueID(v)
				data := t.record(id)
				s, seq, err := t.j.decode(string(id), data)
				if err != nil {
					return err
				}
				if !s.UpdatedAt.Before(before) {
					continue
				}
				ms := append([]string(nil), s.PriorMsgids...)
				for _, m := range s.Msgids {
					ms = append(ms, m)
				}
				batch = append(batch, moving{id: s.ID, key: s.IdempotencyKey, seq: seq, state: s.State, msgids: ms, data: bytes.Clone(data), slot: bytes.Clone(k)})
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(batch) == 0 {
		if _, err := os.Stat(path); err != nil {
			return 0, nil // nothing to move, and no archive to key
		}
	}
	adb, err := openArchive(path, j.opts.LockTimeout)
	if err != nil {
		return 0, err
	}
	err = adb.Update(func(tx *bolt.Tx) error {
		if err := j.keyArchive(tx); err != nil {
			return err
		}
		b := tx.Bucket(bucketSettlements)
		keys := tx.Bucket(bucketByKey)
		// Older settlements are archived first, most of them after those
		// archived before: filled to 90%, as the journal's own pages.
		b.FillPercent, keys.FillPercent = 0.9, 0.9
		for _, m := range batch {
			if err := b.Put([]byte(m.id), m.data); err != nil {
				return err
			}
			if err := keys.Put([]byte(m.key), []byte(m.id)); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := adb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%w: archive %s: %w", agent.ErrJournal, path, err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	err = j.write(ctx, "archive: remove", func(t *tx) error {
		for _, m := range batch {
			cur := t.record([]byte(m.id))
			if cur == nil || !bytes.Equal(cur, m.data) {
				continue // changed since it was selected: it stays
			}
			// The record first: the sequence index leads to it.
			if err := t.deleteRecord([]byte(m.id)); err != nil {
				return err
			}
			for _, del := range []struct {
				b *bolt.Bucket
				k []byte
			}{{t.byKey, []byte(m.key)}, {t.bySeq, encodeSeq(m.seq)}, {t.byState, m.slot}} {
				if err := del.b.Delete(del.k); err != nil {
					return err
				}
			}
			if err := t.countState(m.state, -1); err != nil {
				return err
			}
			for _, ms := range m.msgids {
				if err := t.msgids().removeOwned([]byte(ms), []byte(m.id)); err != nil {
					return err
				}
			}
		}
		return t.values().Put([]byte(compactDue), []byte(j.now().Format(time.RFC3339)))
	})
	if err != nil {
		return 0, err
	}
	j.log.Info("settlements archived", "count", len(batch), "archive", path)
	return len(batch), nil
}

func (j *Journal) now() time.Time {
	if j.opts.Clock != nil {
		return j.opts.Clock.Now()
	}
	return time.Now()
}

func openArchive(path string, timeout time.Duration) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: archive: %w", agent.ErrJournal, err)
	}
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, PageSize: pageSize})
	if err != nil {
		return nil, fmt.Errorf("%w: open archive %s: %w", agent.ErrJournal, path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSettlements, bucketByKey} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: archive %s: %w", agent.ErrJournal, path, err)
	}
	return db, nil
}

// Archived reads a settlement from the archive file.
func (j *Journal) Archived(ctx context.Context, path, id string) (*agent.Settlement, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("settlement %s: %w (no archive)", id, agent.ErrNotFound)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: DefaultLockTimeout})
	if err != nil {
		return nil, fmt.Errorf("%w: open archive %s: %w", agent.ErrJournal, path, err)
	}
	defer db.Close()
	var data []byte
	_ = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSettlements); b != nil {
			data = bytes.Clone(b.Get([]byte(id)))
		}
		return nil
	})
	if data == nil {
		return nil, fmt.Errorf("settlement %s: %w", id, agent.ErrNotFound)
	}
	s, _, err := j.decodeRecord(id, data, true) // archived before v3, perhaps
	return s, err
}

// CompactDue reports whether archiving has freed space that a compaction
// at the next start would give back to the disk.
func (j *Journal) CompactDue(ctx context.Context) bool {
	_, err := j.Value(ctx, compactDue)
	return err == nil
}

// Compact rewrites the journal file at path without its free pages. The
// file must not be open anywhere (the daemon compacts before it opens its
// journal); the copy is synced and renamed over the original, so a crash
// leaves one or the other, whole. The compact request is cleared.
func Compact(path string, opts Options) (before, after int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: compact: %w", agent.ErrJournal, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return 0, 0, openError(path, timeout, err)
		}
		return 0, 0, fmt.Errorf("%w: compact: %w", agent.ErrJournal, err)
	}
	if err := src.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketValues); b != nil {
			return b.Delete([]byte(compactDue))
		}
		return nil
	}); err != nil {
		src.Close()
		return 0, 0, fmt.Errorf("%w: compact: %w", agent.ErrJournal, err)
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	// The copy takes this medterm's page size: a file made with smaller
	// pages gets the larger ones with its first compaction.
	dst, err := bolt.Open(tmp, fi.Mode().Perm(), &bolt.Options{PageSize: pageSize})
	if err != nil {
		src.Close()
		return 0, 0, fmt.Errorf("%w: compact: %w", agent.ErrJournal, err)
	}
	err = bolt.Compact(dst, src, 16<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	src.Close()
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncFile(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, 0, fmt.Errorf("%w: compact: %w", agent.ErrJournal, err)
	}
	nfi, _ := os.Stat(path)
	return fi.Size(), nfi.Size(), nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Retention archives, once a day, the settlements that reached a final
// state more than Keep ago.
type Retention struct {
	Journal *Journal
	Keep    time.Duration
	Archive string
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Run archives at start and then daily until ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	if r.Clock == nil {
		r.Clock = clock.Real{}
	}
	for {
		n, err := r.Journal.Archive(ctx, r.Clock.Now().Add(-r.Keep), r.Archive, 10000)
		if err != nil && r.Logger != nil {
			r.Logger.Error("archiving old settlements failed", "err", err)
		}
		wait := 24 * time.Hour
		if n == 10000 {
			wait = time.Minute // more to move: carry on soon, in bounded steps
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.Clock.After(wait):
		}
	}
}
