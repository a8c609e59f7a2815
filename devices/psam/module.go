package psam

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/seed-a859fada/medterm/devices/apdu"
)

// Card is what the module needs of its connection to the PSAM.
type Card interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
	Close() error
}

// Readers opens a connection to the card in a named reader, returning the
// reader's own connection type C (package pcsc's Card, a test's fake).
type Readers[C Card] interface {
	Connect(ctx context.Context, reader string) (C, error)
}

// Request is what the PSAM needs for one external authentication of a
// card.
type Request struct {
	CardID    []byte // EF05 tag 01, the 16-byte card identifier
	Region    string // the issuing region, the first 6 digits of the identifier
	Challenge []byte // 8 bytes from the card's GET CHALLENGE
	KeyID     byte   // P2 of EXTERNAL AUTHENTICATE
}

// Module is a secure module backed by a PSAM card in a PC/SC reader,
// typically the reader's second slot. It keeps the connection between
// authentications; when a kept connection fails (the PSAM was reseated,
// the PC/SC service restarted), it retries once on a new one.
type Module struct {
	connect func(ctx context.Context) (Card, error) // the PSAM's reader

	mu   sync.Mutex
	card Card
}

// New returns a Module that uses the PSAM in the named reader. It is
// generic over the reader's connection type so that a PC/SC reader
// (psam.New(pcscReader, name)) or a test's fake is passed as it is, with no
// adapter between two packages that do not know each other.
func New[C Card, R Readers[C]](readers R, reader string) *Module {
	return &Module{connect: func(ctx context.Context) (Card, error) {
		c, err := readers.Connect(ctx, reader)
		if err != nil {
			return nil, err
		}
		return c, nil
	}}
}

// Authenticate selects the PSAM application, diversifies the key with the
// card identifier and encrypts the card's challenge.
func (m *Module) Authenticate(ctx context.Context, req Request) ([]byte, error) {
	if len(req.CardID) != CardIDSize || len(req.Challenge) != ChallengeSize {
		return nil, fmt.Errorf("psam authenticate: %w: identifier %d bytes, challenge %d bytes",
			ErrBadRequest, len(req.CardID), len(req.Challenge))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		fresh := m.card == nil
		if fresh {
			card, err := m.connect(ctx)
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

func (m *Module) authenticate(ctx context.Context, req Request) ([]byte, error) {
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
