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
//
// It holds totals, not entries: per bill only its id (so that a change
// is never counted twice, see add) and its deferral time (so that the
// oldest is found again when it leaves), a few dozen bytes where a
// record is kilobytes.
type backlogCache struct {
	mu      sync.Mutex
	loaded  bool
	b       Backlog
	members map[string]struct{} // ids counted
	// ages counts the bills per deferral time; byAge is a min-heap of
	// those times, whose emptied ones are dropped when they reach the top:
	// the forwarder drains oldest first, so the oldest leaves every time.
	ages  map[int64]int
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
	if _, ok := c.members[e.id]; ok {
		return
	}
	c.members[e.id] = struct{}{}
	c.b.Count++
	c.b.Amount += e.amount
	p := c.b.PerPatient[e.patient]
	p.Count++
	p.Amount += e.amount
	c.b.PerPatient[e.patient] = p
	at := e.at.UnixNano()
	if c.ages[at] == 0 {
		heap.Push(&c.byAge, at)
	}
	c.ages[at]++
	c.oldest()
}

func (c *backlogCache) remove(e *backlogEntry) {
	if _, ok := c.members[e.id]; !ok {
		return
	}
	delete(c.members, e.id)
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
	at := e.at.UnixNano()
	if c.ages[at]--; c.ages[at] <= 0 {
		delete(c.ages, at)
	}
	c.oldest()
}

// oldest sets the backlog's oldest deferral time from the heap, dropping
// the times no bill has any more.
func (c *backlogCache) oldest() {
	for c.byAge.Len() > 0 && c.ages[c.byAge[0]] == 0 {
		heap.Pop(&c.byAge)
	}
	c.b.Oldest = time.Time{}
	if c.byAge.Len() > 0 {
		c.b.Oldest = time.Unix(0, c.byAge[0]).UTC()
	}
}

// ageHeap is a min-heap of deferral times (Unix nanoseconds).
type ageHeap []int64

func (h ageHeap) Len() int           { return len(h) }
func (h ageHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h ageHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ageHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *ageHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// Backlog returns the deferred bills not yet settled.
func (s *Service) Backlog(ctx context.Context) (Backlog, error) {
	c := &s.backlog
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.load(ctx, s); err != nil {
		return Backlog{}, err
	}
	out := c.b
	out.PerPatient = make(map[string]PatientTotal, len(c.b.PerPatient))
	for k, v := range c.b.PerPatient {
		out.PerPatient[k] = v
	}
	return out, nil
}

// ready loads the cache, if it is not yet, for take.
func (c *backlogCache) ready(ctx context.Context, s *Service) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load(ctx, s)
}

// take decides on e's bill with check, which sees the backlog as it is,
// every bill already given a place included; if check finds no limit
// broken, e takes its place at once. The bill's journal write then
// confirms the place (add is idempotent) or release gives it back. check
// must only read the backlog; the cache must be ready (it stays so once
// loaded), take reads no journal: it runs inside the journal's writes.
func (c *backlogCache) take(e *backlogEntry, check func(*Backlog) *LimitError) *LimitError {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		panic("backlog: take before ready")
	}
	if lerr := check(&c.b); lerr != nil {
		return lerr
	}
	c.add(e)
	return nil
}

// release gives back a place reserve took for a bill whose deferral was
// not recorded.
func (c *backlogCache) release(e *backlogEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(e)
}

// load builds the cache from the journal on first use; c.mu is held.
func (c *backlogCache) load(ctx context.Context, s *Service) error {
	if c.loaded {
		return nil
	}
	list, err := s.queued(context.WithoutCancel(ctx), backlogStates, "", 0)
	if err != nil {
		return fmt.Errorf("read the backlog: %w", err)
	}
	c.b, c.members, c.ages, c.byAge = Backlog{PerPatient: map[string]PatientTotal{}}, make(map[string]struct{}, len(list)), map[int64]int{}, nil
	for _, q := range list {
		if e := entryOfQueued(q); e != nil {
			c.add(e)
		}
	}
	c.loaded = true
	return nil
}
