package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openGroupDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

// holdFirst starts a writer whose function waits for release, so that
// the writers started after it queue behind its commit.
func holdFirst(t *testing.T, g *groupCommit, db *bolt.DB, release <-chan struct{}, txs chan<- int) <-chan error {
	t.Helper()
	entered := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- g.update(db, func(tx *bolt.Tx) error {
			txs <- tx.ID()
			close(entered)
			<-release
			return tx.Bucket([]byte("b")).Put([]byte("first"), []byte("1"))
		})
	}()
	<-entered
	return done
}

func waitQueued(g *groupCommit, n int) {
	for {
		g.mu.Lock()
		q := len(g.queue)
		g.mu.Unlock()
		if q >= n {
			return
		}
		runtime.Gosched()
	}
}

// Writers that arrive while a commit is under way share the next one:
// eight writers, two transactions.
func TestWritersArrivingDuringACommitShareTheNext(t *testing.T) {
	db := openGroupDB(t)
	var g groupCommit
	release := make(chan struct{})
	txs := make(chan int, 16)
	first := holdFirst(t, &g, db, release, txs)
	var wg sync.WaitGroup
	errs := make(chan error, 7)
	for i := range 7 {
		wg.Go(func() {
			errs <- g.update(db, func(tx *bolt.Tx) error {
				txs <- tx.ID()
				return tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "k%d", i), []byte("v"))
			})
		})
	}
	waitQueued(&g, 7)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	close(txs)
	seen := map[int]int{}
	for id := range txs {
		seen[id]++
	}
	if len(seen) != 2 {
		t.Errorf("transactions: %v; want the first alone and the seven queued behind it in one", seen)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("b")).Stats().KeyN; n != 8 {
			return fmt.Errorf("%d keys stored; want 8", n)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// A writer whose function fails gets its own error and stores nothing;
// the writers before and after it in the batch are stored, in order, and
// the one after sees what the one before wrote.
func TestAFailingWriterInABatchFailsAloneAndTheOthersAreStored(t *testing.T) {
	db := openGroupDB(t)
	var g groupCommit
	release := make(chan struct{})
	txs := make(chan int, 16)
	first := holdFirst(t, &g, db, release, txs)
	refused := errors.New("refused")
	results := make([]chan error, 3)
	fns := []func(*bolt.Tx) error{
		func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte("a"), []byte("1")) },
		func(tx *bolt.Tx) error {
			if err := tx.Bucket([]byte("b")).Put([]byte("partial"), []byte("x")); err != nil {
				return err
			}
			return refused
		},
		func(tx *bolt.Tx) error {
			if tx.Bucket([]byte("b")).Get([]byte("a")) == nil {
				return errors.New("the writer before me is not visible")
			}
			return tx.Bucket([]byte("b")).Put([]byte("c"), []byte("3"))
		},
	}
	for i, fn := range fns {
		results[i] = make(chan error, 1)
		go func() { results[i] <- g.update(db, fn) }()
		waitQueued(&g, i+1) // in this order
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-results[0]; err != nil {
		t.Errorf("the writer before: %v", err)
	}
	if err := <-results[1]; !errors.Is(err, refused) {
		t.Errorf("the failing writer: %v; want its own error", err)
	}
	if err := <-results[2]; err != nil {
		t.Errorf("the writer after: %v", err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		if b.Get([]byte("a")) == nil || b.Get([]byte("c")) == nil || b.Get([]byte("partial")) != nil {
			t.Errorf("stored: a=%q c=%q partial=%q; want a and c, nothing of the failed writer", b.Get([]byte("a")), b.Get([]byte("c")), b.Get([]byte("partial")))
		}
		return nil
	})
}
