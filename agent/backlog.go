package agent

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// backlogCache keeps the backlog's totals in memory, so that deciding a
// deferral or answering a status costs nothing however long the backlog
// is. It is built from the journal on first use and then follows every
// journal update the service makes.
type backlogCache struct {
	mu      sync.Mutex
	loaded  bool
	b       Backlog
	entries map[string]*backlogEntry // by settlement id
	// byAge finds the oldest entry again when the oldest leaves, which is
	// every time while the forwarder drains oldest first: a min-heap by
	// deferral time whose entries that left are dropped when they reach
	// the top.
	byAge ageHeap
}

type backlogEntry struct {
	id      string
	patient string
	amount  money.Fen
	at      time.Time
}

func entryOf(st *Settlement) *backlogEntry {
	if !inBacklog(st) {
		return nil
	}
	return &backlogEntry{id: st.ID, patient: st.PatientRef, amount: st.Bill.Total(), at: st.DeferredAt}
}

func entryOfQueued(q Queued) *backlogEntry {
	if q.DeferredAt.IsZero() || !slices.Contains(backlogStates, q.State) {
		return nil
	}
	return &backlogEntry{id: q.ID, patient: q.PatientRef, amount: q.Amount, at: q.DeferredAt}
}

// update is journal.Update for the service: it keeps the backlog cache in
// step with the settlement's move in or out of the backlog.
func (s *Service) update(ctx context.Context, id string, fn func(*Settlement, MsgidAllocator) error) (*Settlement, error) {
	var before *backlogEntry
	// Not cancelled with the caller or the step's deadline: what the
	// platform answered must be recorded even if nobody waits for it.
	ctx = context.WithoutCancel(ctx)
	st, err := s.journal.Update(ctx, id, func(st *Settlement, ids MsgidAllocator) error {
		before = entryOf(st)
		return fn(st, ids)
	})
	if errors.Is(err, ErrJournal) {
		return nil, fmt.Errorf("%w (settlement %s): %w", ErrNotRecorded, id, err)
	}
	if err != nil {
		return nil, err
	}
	s.backlog.move(before, entryOf(st))
	return st, nil
}

func (c *backlogCache) move(before, after *backlogEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return // built from the journal on first use, which has this change
	}
	if before != nil {
		c.remove(before)
	}
	if after != nil {
		c.add(after)
	}
}

// add and remove are idempotent per settlement: the cache may have been
// loaded from the journal after an update committed and before the update
// reached the cache, and must not count that change twice.
func (c *backlogCache) add(e *backlogEntry) {
	if _, ok := c.entries[e.id]; ok {
		return
	}
	c.entries[e.id] = e
	heap.Push(&c.byAge, e)
	c.b.Count++
	c.b.Amount += e.amount
	p := c.b.PerPatient[e.patient]
	p.Count++
	p.Amount += e.amount
	c.b.PerPatient[e.patient] = p
	if c.b.Oldest.IsZero() || e.at.Before(c.b.Oldest) {
		c.b.Oldest = e.at
	}
}

func (c *backlogCache) remove(e *backlogEntry) {
	if _, ok := c.entries[e.id]; !ok {
		return
	}
	delete(c.entries, e.id)
	c.b.Count--
	c.b.Amount -= e.amount
	p := c.b.PerPatient[e.patient]
	p.Count--
	p.Amount -= e.amount
	if p.Count <= 0 {
		delete(c.b.PerPatient, e.patient)
	} else {
		c.b.PerPatient[e.patient] = p
	}
	// The oldest entry still in the backlog: those that left are
	// dropped from the heap's top.
	for c.byAge.Len() > 0 && c.entries[c.byAge[0].id] != c.byAge[0] {
		heap.Pop(&c.byAge)
	}
	c.b.Oldest = time.Time{}
	if c.byAge.Len() > 0 {
		c.b.Oldest = c.byAge[0].at
	}
}

// ageHeap is a min-heap of backlog entries by deferral time.
type ageHeap []*backlogEntry

func (h ageHeap) Len() int           { return len(h) }
func (h ageHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h ageHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ageHeap) Push(x any)        { *h = append(*h, x.(*backlogEntry)) }
func (h *ageHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// Backlog returns the deferred bills not yet settled.
func (s *Service) Backlog(ctx context.Context) (Backlog, error) {
	c := &s.backlog
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		list, err := s.queued(context.WithoutCancel(ctx), backlogStates)
		if err != nil {
			return Backlog{}, fmt.Errorf("read the backlog: %w", err)
		}
		c.b, c.entries, c.byAge = Backlog{PerPatient: map[string]PatientTotal{}}, make(map[string]*backlogEntry, len(list)), nil
		for _, q := range list {
			if e := entryOfQueued(q); e != nil {
				c.add(e)
			}
		}
		c.loaded = true
	}
	out := c.b
	out.PerPatient = make(map[string]PatientTotal, len(c.b.PerPatient))
	for k, v := range c.b.PerPatient {
		out.PerPatient[k] = v
	}
	return out, nil
}
