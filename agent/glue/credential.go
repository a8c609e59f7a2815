package glue

import (
	"context"
	"errors"
	"fmt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/credential"
)

// Verifier is the offline code verifier as the core's agent.CodeVerifier.
type Verifier struct{ V *credential.Verifier }

var _ agent.CodeVerifier = Verifier{}

// Verify checks a code offline: one not ours is agent.ErrOpaqueCode, one
// refused is an *agent.CodeRejection with the verifier's reason and
// messages, and a failure of the terminal itself (its counter store) is
// returned as it is.
func (a Verifier) Verify(ctx context.Context, text string) (agent.VerifiedCode, error) {
	id, err := a.V.Verify(ctx, text)
	if errors.Is(err, credential.ErrOpaque) {
		return agent.VerifiedCode{}, agent.ErrOpaqueCode
	}
	if r, ok := credential.Explain(err); ok {
		return agent.VerifiedCode{}, &agent.CodeRejection{Reason: r.Reason, Detail: r.Detail, ZH: r.ZH, EN: r.EN}
	}
	if err != nil {
		return agent.VerifiedCode{}, err
	}
	return agent.VerifiedCode{
		Serial: id.Serial.String(), PersonToken: id.Person.String(), Region: id.Region,
		Algorithm: id.Algorithm.String(), CodeTime: id.CodeTime, Counter: uint64(id.Counter),
	}, nil
}

// Counters is the core's counter store (the journal) as the verifier's:
// the core's agent.ErrReplayed becomes credential.ErrReplayed, which the
// verifier turns into a rejection; the store's other errors pass as they
// are.
type Counters struct{ Store agent.CounterStore }

var _ credential.CounterStore = Counters{}

// Advance records counter for serial if it is above the highest seen.
func (c Counters) Advance(ctx context.Context, serial string, counter uint64) error {
	err := c.Store.Advance(ctx, serial, counter)
	if errors.Is(err, agent.ErrReplayed) {
		return fmt.Errorf("%w: %w", credential.ErrReplayed, err)
	}
	return err
}
