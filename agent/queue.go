package agent

import (
	"context"
	"slices"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// Queued is what the forwarder and the backlog's totals need of a
// settlement waiting for the platform: read from the journal's index
// without its record, so that a pass over a long backlog costs little
// and holds little.
type Queued struct {
	ID         string
	State      State
	PatientRef string
	NextTry    time.Time
	Amount     money.Fen // the bill's total
	DeferredAt time.Time
}

// QueueOf is s as the queue lists it.
func QueueOf(s *Settlement) Queued {
	return Queued{ID: s.ID, State: s.State, PatientRef: s.PatientRef, NextTry: s.NextTry, Amount: s.Bill.Total(), DeferredAt: s.DeferredAt}
}

// QueueReader is a journal that lists Queued entries from an index of its
// own. A journal without one is listed through List.
type QueueReader interface {
	// Queued lists the settlements in states, oldest first (in the
	// order they were accepted): those accepted after the settlement
	// after ("" from the first), at most limit of them (0: all).
	Queued(ctx context.Context, states []State, after string, limit int) ([]Queued, error)
}

// pendingStates are the states of work that needs the platform (or the
// payment channel).
var pendingStates = []State{StateAccepted, StateDeferred, StateSettling, StateInDoubt, StateReversing, StatePaying, StateRefunding}

// Queue lists the settlements that need the platform, as Pending does,
// oldest first, without reading their records where the journal can: at
// most limit of them (0: all), those accepted after the settlement after
// ("" from the first). A pass over a long backlog reads it a page at a
// time, and holds no more than a page.
func (s *Service) Queue(ctx context.Context, after string, limit int) ([]Queued, error) {
	return s.queued(ctx, pendingStates, after, limit)
}

func (s *Service) queued(ctx context.Context, states []State, after string, limit int) ([]Queued, error) {
	if q, ok := s.journal.(QueueReader); ok {
		return q.Queued(ctx, states, after, limit)
	}
	list, err := s.journal.List(ctx, ListFilter{States: states})
	if err != nil {
		return nil, err
	}
	slices.Reverse(list) // List is newest first
	if after != "" {
		i := slices.IndexFunc(list, func(st *Settlement) bool { return st.ID == after })
		list = list[i+1:] // from the first when after is not listed (any more)
	}
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	out := make([]Queued, len(list))
	for i, st := range list {
		out[i] = QueueOf(st)
	}
	return out, nil
}
