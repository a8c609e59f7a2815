package glue

import (
	"context"
	"errors"
	"log/slog"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/sscard"
)

// Identifier is the social-security card reader as the core's
// agent.CardIdentifier.
type Identifier struct {
	R *sscard.Reader
	// Log hears of a financial application whose answers were malformed:
	// the card is identified without its account. Nil discards.
	Log *slog.Logger
}

var _ agent.CardIdentifier = Identifier{}

// Identify reads the card and returns the holder's identity as the core
// sees it. An expired card is returned with Expired set and no error:
// refusing it is the workflow's call, not the reader's.
func (i Identifier) Identify(ctx context.Context, card agent.Card) (agent.CardIdentity, error) {
	id, err := i.R.Read(ctx, card)
	expired := errors.Is(err, sscard.ErrCardExpired)
	if err != nil && !expired {
		return agent.CardIdentity{}, err
	}
	if id.AccountErr != nil && i.Log != nil {
		// The error names tags and lengths, never a digit of the number.
		i.Log.Warn("card read without its financial account", "version", id.Version, "err", id.AccountErr)
	}
	return identity(id, expired), nil
}

// identity is the core's view of a card read by package sscard.
func identity(id *sscard.Identity, expired bool) agent.CardIdentity {
	return agent.CardIdentity{
		CardNo: id.CardNumber, CardSN: id.CardID, IDNo: id.IDNumber, Name: id.Name,
		Gender: id.Gender, BirthDate: id.BirthDate, Version: id.Version,
		ExpiryDate: id.ExpiryDate, Expired: expired, AccountNo: id.AccountNo,
		ReadCardBas: id.ReadCardBas("", ""),
	}
}
