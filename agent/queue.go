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
	// order they were accepted).
	Queued(ctx context.Context, states []State) ([]Queued, error)
}

// pendingStates are the states of work that needs the platform (or the
// payment channel).
var pendingStates = []State{StateAccepted, StateDeferred, StateSettling, StateInDoubt, StateReversing, StatePaying, StateRefunding}

// Queue lists the settlements that need the platform, as Pending does,
// oldest first, without reading their records where the journal can.
func (s *Service) Queue(ctx context.Context) ([]Queued, error) {
	return s.queued(ctx, pendingStates)
}

func (s *Service) queued(ctx context.Context, states []State) ([]Queued, error) {
	if q, ok := s.journal.(QueueReader); ok {
		return q.Queued(ctx, states)
	}
	list, err := s.journal.List(ctx, ListFilter{States: states})
	if err != nil {
		return nil, err
	}
	slices.Reverse(list) // List is newest first
	out := make([]Queued, len(list))
	for i, st := range list {
		out[i] = QueueOf(st)
	}
	return out, nil
}
