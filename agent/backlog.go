package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// backlogCache keeps the backlog's totals in memory, so that deciding a
// deferral or answering a status costs nothing however long the backlog
// is. It is built from the journal on first use and then follows every
// journal update the service makes.
type backlogCache struct {
	mu     sync.Mutex
	loaded bool
	b      Backlog
	since  map[string]time.Time // id → deferred at, for the oldest
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

// update is journal.Update for the service: it keeps the backlog cache in
// step with the settlement's move in or out of the backlog.
func (s *Service) update(ctx context.Context, id string, fn func(*Settlement, MsgidAllocator) error) (*Settlement, error) {
	var before *backlogEntry
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

func (c *backlogCache) add(e *backlogEntry) {
	c.b.Count++
	c.b.Amount += e.amount
	p := c.b.PerPatient[e.patient]
	p.Count++
	p.Amount += e.amount
	c.b.PerPatient[e.patient] = p
	c.since[e.id] = e.at
	if c.b.Oldest.IsZero() || e.at.Before(c.b.Oldest) {
		c.b.Oldest = e.at
	}
}

func (c *backlogCache) remove(e *backlogEntry) {
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
	delete(c.since, e.id)
	if e.at.Equal(c.b.Oldest) {
		// The forwarder drains oldest first: find the next oldest.
		c.b.Oldest = time.Time{}
		for _, at := range c.since {
			if c.b.Oldest.IsZero() || at.Before(c.b.Oldest) {
				c.b.Oldest = at
			}
		}
	}
}

// Backlog returns the deferred bills not yet settled.
func (s *Service) Backlog(ctx context.Context) (Backlog, error) {
	c := &s.backlog
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		list, err := s.journal.List(ctx, ListFilter{States: backlogStates})
		if err != nil {
			return Backlog{}, fmt.Errorf("read the backlog: %w", err)
		}
		c.b, c.since = Backlog{PerPatient: map[string]PatientTotal{}}, map[string]time.Time{}
		for _, st := range list {
			if e := entryOf(st); e != nil {
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
