package psam

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/apdu"
)

// Module is an agent.SecureModule backed by a PSAM card in a PC/SC reader,
// typically the reader's second slot. It keeps the connection between
// authentications; when a kept connection fails (the PSAM was reseated,
// the PC/SC service restarted), it retries once on a new one.
type Module struct {
	readers agent.CardReader
	reader  string

	mu   sync.Mutex
	card agent.Card
}

var _ agent.SecureModule = (*Module)(nil)

// New returns a Module that uses the PSAM in the named reader.
func New(readers agent.CardReader, reader string) *Module {
	return &Module{readers: readers, reader: reader}
}

// Authenticate selects the PSAM application, diversifies the key with the
// card identifier and encrypts the card's challenge.
func (m *Module) Authenticate(ctx context.Context, req agent.AuthRequest) ([]byte, error) {
	if len(req.CardID) != CardIDSize || len(req.Challenge) != ChallengeSize {
		return nil, fmt.Errorf("psam authenticate: %w: identifier %d bytes, challenge %d bytes",
			ErrBadRequest, len(req.CardID), len(req.Challenge))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		fresh := m.card == nil
		if fresh {
			card, err := m.readers.Connect(ctx, m.reader)
			if err != nil {
				return nil, fmt.Errorf("psam connect: %w", err)
			}
			m.card = card
		}
		out, err := m.authenticate(ctx, req)
		var se *apdu.StatusError
		if err == nil || errors.As(err, &se) {
			return out, err
		}
		// Not an answer from the PSAM: the kept connection may be from
		// before the PSAM was reseated or PC/SC restarted. Try once on a
		// new one.
		m.card.Close()
		m.card = nil
		if fresh || ctx.Err() != nil {
			return nil, err
		}
	}
}

func (m *Module) authenticate(ctx context.Context, req agent.AuthRequest) ([]byte, error) {
	if _, err := apdu.Exchange(ctx, m.card, apdu.Command{INS: 0xA4, P1: 0x04, Data: AID}); err != nil {
		return nil, fmt.Errorf("psam select: %w", err)
	}
	div := apdu.Command{CLA: CLA, INS: INSDiversify, P2: req.KeyID, Data: req.CardID}
	if _, err := apdu.Exchange(ctx, m.card, div); err != nil {
		return nil, fmt.Errorf("psam diversify key %02X: %w", req.KeyID, err)
	}
	enc := apdu.Command{CLA: CLA, INS: INSEncrypt, Data: req.Challenge, Le: CryptogramSize}
	out, err := apdu.Exchange(ctx, m.card, enc)
	if err != nil {
		return nil, fmt.Errorf("psam encrypt: %w", err)
	}
	if len(out) != CryptogramSize {
		return nil, fmt.Errorf("psam encrypt: %w: %d bytes", ErrBadCryptogram, len(out))
	}
	return out, nil
}

// Close releases the PSAM connection.
func (m *Module) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.card == nil {
		return nil
	}
	err := m.card.Close()
	m.card = nil
	return err
}
