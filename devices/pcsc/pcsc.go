//go:build cgo || windows

package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// Reader is a card reader over PC/SC: the readers present, their changes,
// and connections to their cards. Its methods are safe for concurrent use.
type Reader struct {
	mu     sync.Mutex
	sctx   *scard.Context // nil until first use and after the service went away
	closed chan struct{}
	once   sync.Once
}

// New returns a Reader. It reaches the PC/SC service on first use, so it
// can be created before the service runs.
func New() *Reader { return &Reader{closed: make(chan struct{})} }

// Readers lists the readers now present; none is an empty list, not an
// error.
func (r *Reader) Readers(ctx context.Context) ([]string, error) {
	var names []string
	err := r.do(ctx, "list readers", func(c *scard.Context) (err error) {
		names, err = listReaders(c)
		return err
	})
	return names, err
}

// WaitChange blocks until a reader or card differs from known, or ctx
// ends. See monitor for how calls share one PC/SC wait.
func (r *Reader) WaitChange(ctx context.Context, known []ReaderState) ([]ReaderState, error) {
	select {
	case <-r.closed:
		return nil, ErrClosed
	default:
	}
	return mon.wait(ctx, r.closed, known)
}

// Connect opens the card in reader in shared mode, so that another
// program (the CLI while the daemon runs) may read it too.
func (r *Reader) Connect(ctx context.Context, reader string) (Card, error) {
	var c *card
	err := r.do(ctx, "connect "+reader, func(sc *scard.Context) error {
		h, err := sc.Connect(reader, scard.ShareShared, scard.ProtocolAny)
		if err != nil {
			return err
		}
		st, err := h.Status()
		if err != nil {
			h.Disconnect(scard.LeaveCard)
			return err
		}
		c = &card{reader: r, sctx: sc, name: reader, h: h, atr: bytes.Clone(st.Atr)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close releases the connection to the PC/SC service, which also ends the
// card connections made through this Reader, and ends its pending
// WaitChange calls with ErrClosed.
func (r *Reader) Close() error {
	r.once.Do(func() { close(r.closed) })
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sctx == nil {
		return nil
	}
	err := r.sctx.Release()
	r.sctx = nil
	return err
}

// do runs fn with an established PC/SC context. If the service went away
// since the context was made (pcscd restarted), the context is dropped
// and fn is tried once more with a fresh one, so a caller sees an error
// only while the service is really down.
func (r *Reader) do(ctx context.Context, op string, fn func(*scard.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.closed:
		return ErrClosed
	default:
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if r.sctx == nil {
			if r.sctx, err = scard.EstablishContext(); err != nil {
				r.sctx = nil
				return wrap(op, err)
			}
		}
		if err = fn(r.sctx); err == nil {
			return nil
		}
		if !errors.Is(classify(err), ErrServiceStopped) {
			break
		}
		r.dropContext()
	}
	return wrap(op, err)
}

func (r *Reader) dropContext() {
	if r.sctx != nil {
		r.sctx.Release() // fails when the service is gone; nothing to undo
		r.sctx = nil
	}
}

// serviceLost is called by a card whose connection found the service
// gone. Only the context the card was made in is dropped: releasing a
// newer one would break the connections made since the service came back.
func (r *Reader) serviceLost(sctx *scard.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sctx == sctx {
		r.dropContext()
	}
}

func listReaders(c *scard.Context) ([]string, error) {
	names, err := c.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return []string{}, nil
	}
	return names, err
}

var _ Card = (*card)(nil)

// card is one connection to an inserted card.
type card struct {
	reader *Reader
	sctx   *scard.Context // the context the connection belongs to
	name   string
	atr    []byte

	mu sync.Mutex
	h  *scard.Card // nil once closed
}

func (c *card) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return nil, fmt.Errorf("pcsc transmit: %w", ErrClosed)
	}
	out, err := c.h.Transmit(command)
	switch {
	case errors.Is(err, scard.ErrNotTransacted), errors.Is(err, scard.ErrCommError):
		return nil, c.lostContact(ctx, "transmit", err)
	case err != nil:
		return nil, c.fail("transmit", err)
	case len(out) == 0:
		return nil, c.lostContact(ctx, "transmit", errNoAnswer)
	}
	return out, nil
}

func (c *card) ATR() []byte { return bytes.Clone(c.atr) }

func (c *card) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return nil
	}
	err := c.h.Disconnect(scard.LeaveCard)
	c.h = nil
	if err != nil && classify(err) == nil {
		return wrap("disconnect", err)
	}
	return nil // a card already gone is disconnected enough
}

// BeginTransaction holds the reader for a sequence of commands.
func (c *card) BeginTransaction() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return fmt.Errorf("pcsc begin transaction: %w", ErrClosed)
	}
	if err := c.h.BeginTransaction(); err != nil {
		return c.fail("begin transaction", err)
	}
	return nil
}

// EndTransaction releases the reader and leaves the card as it is.
func (c *card) EndTransaction() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return nil
	}
	if err := c.h.EndTransaction(scard.LeaveCard); err != nil {
		return c.fail("end transaction", err)
	}
	return nil
}

// fail names a failed card operation.
func (c *card) fail(op string, err error) error {
	if errors.Is(classify(err), ErrServiceStopped) {
		c.reader.serviceLost(c.sctx)
	}
	return wrap(op, err)
}

// settleTime bounds how long a card that stopped answering is watched
// before it is declared mute rather than removed. Drivers that poll for
// presence (vpcd every 400 ms) notice a removal within it.
const settleTime = 2 * time.Second

// lostContact names a card that stopped answering in the middle of an
// exchange. A driver that lost the card reports a transport error (or,
// like vpcd, an empty answer) rather than a removal, and notices the
// removal only on its next presence poll: watch the reader's state, by
// events and for a bounded time, to tell a pulled card from a mute one.
func (c *card) lostContact(ctx context.Context, op string, cause error) error {
	if _, err := c.h.Status(); err != nil && classify(err) != nil {
		return c.fail(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, settleTime)
	defer cancel()
	var known []ReaderState
	for {
		states, err := mon.wait(ctx, c.reader.closed, known)
		if err != nil {
			break
		}
		for _, s := range states {
			if s.Reader == c.name && !s.Present {
				return fmt.Errorf("pcsc %s: %w (%w)", op, ErrCardRemoved, cause)
			}
		}
		known = states
	}
	return fmt.Errorf("pcsc %s: %w (%w)", op, ErrCardMute, cause)
}

// errNoAnswer stands for a transmission that returned nothing at all,
// not even a status word.
var errNoAnswer = errors.New("empty response")

// classify maps a PC/SC code to the sentinel the agent acts on, or nil.
func classify(err error) error {
	var code scard.Error
	if !errors.As(err, &code) {
		return nil
	}
	switch code {
	case scard.ErrNoSmartcard:
		return ErrNoCard
	case scard.ErrRemovedCard:
		return ErrCardRemoved
	case scard.ErrResetCard:
		return ErrCardReset
	case scard.ErrUnresponsiveCard, scard.ErrUnpoweredCard, scard.ErrUnsupportedCard, scard.ErrProtoMismatch:
		return ErrCardMute
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable, scard.ErrReaderUnsupported:
		return ErrReaderGone
	case scard.ErrSharingViolation:
		return ErrReaderBusy
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle:
		// An invalid handle is a context or card from before a service
		// restart.
		return ErrServiceStopped
	}
	return nil
}

// wrap names the operation and, when there is one, the sentinel, keeping
// the PC/SC code for the log.
func wrap(op string, err error) error {
	if kind := classify(err); kind != nil {
		return fmt.Errorf("pcsc %s: %w (%w)", op, kind, err)
	}
	return fmt.Errorf("pcsc %s: %w", op, err)
}
