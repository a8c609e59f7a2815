package sscard

import (
	"context"
	"errors"

	"github.com/seed-a859fada/medterm/agent"
)

var _ agent.CardIdentifier = (*Reader)(nil)

// Identify implements agent.CardIdentifier: it reads the card and returns
// the holder's identity as the core sees it. An expired card is returned
// with Expired set and no error; refusing it is the workflow's call.
func (r *Reader) Identify(ctx context.Context, card agent.Card) (agent.CardIdentity, error) {
	id, err := r.Read(ctx, card)
	expired := errors.Is(err, ErrCardExpired)
	if err != nil && !expired {
		return agent.CardIdentity{}, err
	}
	return agent.CardIdentity{
		CardNo: id.CardNumber, CardSN: id.CardID, IDNo: id.IDNumber, Name: id.Name,
		Gender: id.Gender, BirthDate: id.BirthDate, Version: id.Version,
		ExpiryDate: id.ExpiryDate, Expired: expired,
	}, nil
}
