package credential

import (
	"context"
	"errors"

	"github.com/seed-a859fada/medterm/agent"
)

// ForAgent adapts a Verifier to the core's agent.CodeVerifier.
type ForAgent struct{ V *Verifier }

var _ agent.CodeVerifier = ForAgent{}

// Verify implements agent.CodeVerifier.
func (a ForAgent) Verify(ctx context.Context, text string) (agent.VerifiedCode, error) {
	id, err := a.V.Verify(ctx, text)
	if errors.Is(err, ErrOpaque) {
		return agent.VerifiedCode{}, agent.ErrOpaqueCode
	}
	if r, ok := Explain(err); ok {
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
