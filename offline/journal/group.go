package journal

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// groupCommit lets concurrent writers share one bbolt transaction, and so
// one commit and its fsyncs: the writes that arrive while a commit is
// under way wait for it and are then committed together by one of them.
// A lone writer commits at once: nothing ever waits for company.
//
// The write-ahead rule holds for every writer: it returns only once the
// transaction holding its own changes is durable (or has failed, and
// nothing of it is stored).
//
// A batch is one transaction, in arrival order, each writer's function
// seeing the changes of those before it. If a function fails, the
// transaction rolls back; the writers before it are committed again
// without it, the failing one alone (so that its error is its own and
// nothing of its partial work is kept), then the rest. Functions may
// therefore run more than once, as with bbolt's own Batch: each must do
// its work inside the transaction only.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*commitReq
	leading bool
}

type commitReq struct {
	fn   func(*bolt.Tx) error
	done chan error    // the outcome of the transaction that held fn
	lead chan struct{} // closed when this writer is to commit the queue
}

// update runs fn in a durable transaction, shared with the writers queued
// at the same time.
func (g *groupCommit) update(db *bolt.DB, fn func(*bolt.Tx) error) error {
	r := &commitReq{fn: fn, done: make(chan error, 1), lead: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.leading {
		g.mu.Unlock()
		select {
		case err := <-r.done:
			return err
		case <-r.lead: // the last leader handed the queue, r in it, to r
		}
		g.mu.Lock()
	}
	g.leading = true
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()

	commitBatch(db, batch)

	// The writers that queued meanwhile: the first of them commits them.
	g.mu.Lock()
	if len(g.queue) > 0 {
		close(g.queue[0].lead)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return <-r.done
}

// commitBatch commits batch in order and tells each writer its outcome.
func commitBatch(db *bolt.DB, batch []*commitReq) {
	for len(batch) > 0 {
		failed := -1
		err := db.Update(func(tx *bolt.Tx) error {
			for i, r := range batch {
				if err := r.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		switch {
		case err == nil:
			for _, r := range batch {
				r.done <- nil
			}
			return
		case failed < 0 || len(batch) == 1:
			// The commit itself failed (a full disk, a closed file), or
			// the only writer's function did: nothing of it is stored.
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		if failed > 0 {
			commitBatch(db, batch[:failed])
		}
		f := batch[failed]
		f.done <- db.Update(f.fn)
		batch = batch[failed+1:]
	}
}
