package journaltest

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bare is the baseline of every journal benchmark: a plain bbolt file in
// the given directory (the journal's disk), one ~1 KiB value per
// transaction, synced as every journal write is. Benchmarks report their
// cost as a multiple of its commit, measured in the same run, because
// absolute times on a shared machine drift with its load and the ratio
// much less.
type Bare struct {
	db    *bolt.DB
	value []byte
	next  uint64
}

// OpenBare opens the baseline file in dir; it is closed when tb ends.
func OpenBare(tb testing.TB, dir string) *Bare {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(dir, "bare.db"), 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	value := make([]byte, 1024)
	for i := range value {
		value[i] = byte(i * 131)
	}
	return &Bare{db: db, value: value}
}

// Commit writes one value under a new key in its own transaction.
func (c *Bare) Commit(tb testing.TB) {
	c.next++
	err := c.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("bare"))
		if err != nil {
			return err
		}
		return bk.Put(binary.BigEndian.AppendUint64(nil, c.next), c.value)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// PerCommit times n commits and returns the time of one.
func (c *Bare) PerCommit(tb testing.TB, n int) time.Duration {
	start := time.Now()
	for range n {
		c.Commit(tb)
	}
	return time.Since(start) / time.Duration(n)
}
