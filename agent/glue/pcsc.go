package glue

import (
	"context"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/pcsc"
)

// PCSC is a card reader as package pcsc offers it (*pcsc.Reader).
type PCSC interface {
	Readers(ctx context.Context) ([]string, error)
	WaitChange(ctx context.Context, known []pcsc.ReaderState) ([]pcsc.ReaderState, error)
	Connect(ctx context.Context, reader string) (pcsc.Card, error)
}

var _ PCSC = (*pcsc.Reader)(nil)

// Readers is a PC/SC reader as the core's agent.CardReader.
type Readers struct{ R PCSC }

var _ agent.CardReader = Readers{}

// Readers lists the reader names now present.
func (r Readers) Readers(ctx context.Context) ([]string, error) { return r.R.Readers(ctx) }

// WaitChange waits for a reader or card to change relative to known. A nil
// known stays nil, so that "the current state at once" keeps its meaning.
func (r Readers) WaitChange(ctx context.Context, known []agent.ReaderState) ([]agent.ReaderState, error) {
	states, err := r.R.WaitChange(ctx, convertSlice(known, toPCSC))
	if err != nil {
		return nil, err
	}
	return convertSlice(states, toAgent), nil
}

// Connect opens the card in reader in shared mode. The connection is
// handed on as it is, so that the card reader's transaction methods stay
// reachable behind agent.Card.
func (r Readers) Connect(ctx context.Context, reader string) (agent.Card, error) {
	c, err := r.R.Connect(ctx, reader)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func toPCSC(s agent.ReaderState) pcsc.ReaderState {
	return pcsc.ReaderState{Reader: s.Reader, Present: s.Present, ATR: s.ATR, Mute: s.Mute, Counter: s.Counter}
}

func toAgent(s pcsc.ReaderState) agent.ReaderState {
	return agent.ReaderState{Reader: s.Reader, Present: s.Present, ATR: s.ATR, Mute: s.Mute, Counter: s.Counter}
}

// convertSlice maps each element, keeping nil apart from empty: to
// WaitChange, nil asks for the current state and an empty list says "no
// readers".
func convertSlice[A, B any](in []A, f func(A) B) []B {
	if in == nil {
		return nil
	}
	out := make([]B, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}
