package agenttest

import (
	"context"
	"errors"
	"sync"

	"github.com/seed-a859fada/medterm/agent"
)

// Readers is a scriptable agent.CardReader: a test pushes reader states
// with Set and WaitChange hands each one out once.
type Readers struct {
	mu      sync.Mutex
	changes chan []agent.ReaderState
	// ConnectErr, if set, fails Connect.
	ConnectErr error
}

var _ agent.CardReader = (*Readers)(nil)

// NewReaders returns a fake with no readers.
func NewReaders() *Readers { return &Readers{changes: make(chan []agent.ReaderState, 16)} }

// Set publishes a new state of every reader.
func (r *Readers) Set(states ...agent.ReaderState) { r.changes <- states }

// Fail makes the next WaitChange fail, as when the smart-card service
// stops.
func (r *Readers) Fail() { r.changes <- nil }

func (r *Readers) Readers(context.Context) ([]string, error) { return nil, nil }

func (r *Readers) WaitChange(ctx context.Context, _ []agent.ReaderState) ([]agent.ReaderState, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case s := <-r.changes:
		if s == nil {
			return nil, errors.New("smart-card service stopped")
		}
		return s, nil
	}
}

func (r *Readers) Connect(_ context.Context, reader string) (agent.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ConnectErr != nil {
		return nil, r.ConnectErr
	}
	return &fakeCard{reader: reader}, nil
}

type fakeCard struct{ reader string }

func (c *fakeCard) Transmit(context.Context, []byte) ([]byte, error) { return []byte{0x90, 0}, nil }
func (c *fakeCard) ATR() []byte                                      { return []byte{0x3B} }
func (c *fakeCard) Close() error                                     { return nil }

// Identities is an agent.CardIdentifier answering by reader name.
type Identities map[string]agent.CardIdentity

func (m Identities) Identify(_ context.Context, card agent.Card) (agent.CardIdentity, error) {
	id, ok := m[card.(*fakeCard).reader]
	if !ok {
		return agent.CardIdentity{}, errors.New("6A82 file not found")
	}
	return id, nil
}
