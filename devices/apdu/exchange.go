package apdu

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Card is what Exchange needs of a card connection: one command APDU in,
// the raw response APDU out. The package declares it rather than take the
// core's card type, so that it stays a codec any reader can use.
type Card interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
}

// Conn is a whole card connection as a reader hands it out; Counter
// wraps one and stands in for it.
type Conn interface {
	Card
	ATR() []byte
	Close() error
}

// MaxRounds bounds the 61xx and 6Cxx rounds of one Exchange. A record of
// the social-security card is at most 32 bytes, so a card that still wants
// GET RESPONSE after this many rounds is misbehaving, not slow.
const MaxRounds = 32

// maxData bounds what GET RESPONSE may accumulate for one command.
const maxData = 4096

// Exchange sends cmd and returns the response data when the card answers
// 9000. It follows 61xx with GET RESPONSE (00 C0 00 00 xx), collecting the
// data of every round, and answers 6Cxx by resending the last command with
// Le = xx. Any other status word is a *StatusError.
func Exchange(ctx context.Context, card Card, cmd Command) ([]byte, error) {
	var data []byte
	last := cmd
	for range MaxRounds {
		raw, err := last.Bytes()
		if err != nil {
			return nil, err
		}
		out, err := card.Transmit(ctx, raw)
		if err != nil {
			return nil, err
		}
		resp, err := ParseResponse(out)
		if err != nil {
			return nil, err
		}
		data = append(data, resp.Data...)
		if len(data) > maxData {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrChainTooLong, maxData)
		}
		switch sw1, sw2 := byte(resp.SW>>8), byte(resp.SW); sw1 {
		case 0x61:
			last = Command{CLA: cmd.CLA & 0x03, INS: 0xC0, Le: leValue(sw2)}
		case 0x6C:
			// The data sent with the wrong Le is not part of the answer.
			data = data[:len(data)-len(resp.Data)]
			last.Le = leValue(sw2)
		default:
			if err := Status(resp.SW); err != nil {
				return nil, err
			}
			return data, nil
		}
	}
	return nil, fmt.Errorf("%w: %d rounds", ErrChainTooLong, MaxRounds)
}

// Counter is a card that counts the command APDUs sent through it,
// GET RESPONSE and resends included: what a read really costs on the wire.
type Counter struct {
	Conn
	n atomic.Int64
}

// Count wraps card in a Counter.
func Count(card Conn) *Counter { return &Counter{Conn: card} }

// Transmit counts and forwards one command.
func (c *Counter) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	c.n.Add(1)
	return c.Conn.Transmit(ctx, command)
}

// N is the number of commands sent so far.
func (c *Counter) N() int { return int(c.n.Load()) }

// Transactor is a card that can hold its reader for a sequence of commands
// (PC/SC's SCardBeginTransaction), so that another program sharing the
// reader cannot slip a SELECT between two reads.
type Transactor interface {
	BeginTransaction() error
	EndTransaction() error
}

// BeginTransaction forwards to the wrapped card when it is a Transactor.
func (c *Counter) BeginTransaction() error {
	if t, ok := c.Conn.(Transactor); ok {
		return t.BeginTransaction()
	}
	return nil
}

// EndTransaction forwards to the wrapped card when it is a Transactor.
func (c *Counter) EndTransaction() error {
	if t, ok := c.Conn.(Transactor); ok {
		return t.EndTransaction()
	}
	return nil
}
