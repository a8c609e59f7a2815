package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/mask"
)

// CardIdentity is what a social-security card says about its holder, read
// at the desk. AccountNo is the account number of the card's own financial
// account (社保卡金融账户), which the payment leg may debit under the
// patient's agreement.
type CardIdentity struct {
	Reader     string    `json:"reader"`
	CardNo     string    `json:"card_no"`
	CardSN     string    `json:"card_sn"` // the card identifier, 32 hex digits
	IDNo       string    `json:"id_no"`
	Name       string    `json:"name"`
	Gender     string    `json:"gender"`
	BirthDate  string    `json:"birth_date"`
	Version    string    `json:"version"` // "1.00", "2.00", "3.00"
	ExpiryDate string    `json:"expiry_date"`
	Expired    bool      `json:"expired"`
	AccountNo  string    `json:"account_no,omitempty"` // the card's financial account; "" without one
	ReadAt     time.Time `json:"read_at"`
	// ReadCardBas is the card as the iReadCardBas interface gives it, the
	// '|'-separated string HIS programs parse to register a patient; only
	// for a caller who asks for the card in full.
	ReadCardBas string `json:"-"`
}

// Masked returns the identity with its personal fields masked.
func (c CardIdentity) Masked() CardIdentity {
	c.CardNo, c.CardSN, c.IDNo, c.Name = mask.Card(c.CardNo), mask.Card(c.CardSN), mask.IDNo(c.IDNo), mask.Name(c.Name)
	c.AccountNo = mask.PAN(c.AccountNo)
	c.BirthDate, c.ReadCardBas = "", ""
	return c
}

// CardIdentifier reads the holder's identity from an inserted card: the
// social-security application (devices/sscard) behind a core port. An
// expired card is returned with Expired set and no error: refusing it is
// the workflow's decision, not the reader's.
type CardIdentifier interface {
	Identify(ctx context.Context, card Card) (CardIdentity, error)
}

// Card errors.
var (
	ErrNoCard         = errors.New("no card in the reader")
	ErrCardExpired    = errors.New("the card has expired")
	ErrCardUnreadable = errors.New("the card could not be read")
	ErrUnknownReader  = errors.New("no such card reader")
	ErrNoDeskReader   = errors.New("no card reader is configured or present")
)

// Desk watches the consultation room's card readers: when a patient
// inserts a card it is read at once, the identity is kept for as long as
// the card stays in, and an event tells the HIS. When the doctor settles
// "for the card in this desk's reader", the workflow asks the Desk.
type Desk struct {
	readers CardReader
	ident   CardIdentifier
	bus     *events.Bus
	clock   clock.Clock
	log     *slog.Logger
	skip    []string // readers that are not desk readers (the PSAM slot)

	mu    sync.Mutex
	cards map[string]deskCard
	seen  []string // readers present, in the order reported
}

type deskCard struct {
	id  CardIdentity
	err error
}

// DeskConfig wires a Desk.
type DeskConfig struct {
	Readers    CardReader
	Identifier CardIdentifier
	Events     *events.Bus
	Clock      clock.Clock
	Logger     *slog.Logger
	// Skip lists readers that hold something else than patients' cards,
	// such as the PSAM.
	Skip []string
}

// NewDesk returns a Desk.
func NewDesk(c DeskConfig) *Desk {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Desk{readers: c.Readers, ident: c.Identifier, bus: c.Events, clock: c.Clock, log: c.Logger, skip: c.Skip, cards: map[string]deskCard{}}
}

// Run watches the readers until ctx ends. It returns an error when the
// smart-card service fails, for the supervisor to restart it.
func (d *Desk) Run(ctx context.Context) error {
	var known []ReaderState
	for {
		states, err := d.readers.WaitChange(ctx, known)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.forgetAll()
			return fmt.Errorf("watch card readers: %w", err)
		}
		d.apply(ctx, known, states)
		known = states
	}
}

// apply reads newly inserted cards and forgets removed ones. The readers
// present are recorded first, so that whoever hears of a card asks a desk
// that already knows its reader.
func (d *Desk) apply(ctx context.Context, before, after []ReaderState) {
	prev := map[string]ReaderState{}
	for _, s := range before {
		prev[s.Reader] = s
	}
	var present, inserted, removed []string
	for _, s := range after {
		if slices.Contains(d.skip, s.Reader) {
			continue
		}
		present = append(present, s.Reader)
		p, had := prev[s.Reader]
		switch {
		case s.Present && (!had || !p.Present || p.Counter != s.Counter):
			inserted = append(inserted, s.Reader)
		case !s.Present && had && p.Present:
			removed = append(removed, s.Reader)
		}
		delete(prev, s.Reader)
	}
	for r, p := range prev { // readers unplugged
		if p.Present {
			removed = append(removed, r)
		}
	}
	d.mu.Lock()
	d.seen = present
	for _, r := range inserted {
		// A card swapped between two waits: until the new one is read, the
		// reader holds no identity, never the previous patient's.
		delete(d.cards, r)
	}
	d.mu.Unlock()
	for _, r := range removed {
		d.remove(r)
	}
	for _, r := range inserted {
		d.read(ctx, r)
	}
}

// read identifies the card in reader and records the outcome.
func (d *Desk) read(ctx context.Context, reader string) {
	id, err := d.identify(ctx, reader)
	d.mu.Lock()
	d.cards[reader] = deskCard{id: id, err: err}
	d.mu.Unlock()
	if err != nil {
		d.log.Warn("card could not be read", "reader", reader, "err", err)
		d.bus.Publish(events.CardError, map[string]string{"reader": reader, "error": err.Error()})
		return
	}
	d.log.Info("card inserted", "reader", reader, "version", id.Version, "expired", id.Expired)
	d.bus.Publish(events.CardInserted, id.Masked())
}

func (d *Desk) identify(ctx context.Context, reader string) (CardIdentity, error) {
	card, err := d.readers.Connect(ctx, reader)
	if err != nil {
		return CardIdentity{}, fmt.Errorf("%w: %w", ErrCardUnreadable, err)
	}
	defer card.Close()
	id, err := d.ident.Identify(ctx, card)
	if err != nil {
		return CardIdentity{}, fmt.Errorf("%w: %w", ErrCardUnreadable, err)
	}
	id.Reader, id.ReadAt = reader, d.clock.Now()
	return id, nil
}

func (d *Desk) remove(reader string) {
	d.mu.Lock()
	_, had := d.cards[reader]
	delete(d.cards, reader)
	d.mu.Unlock()
	if had {
		d.log.Info("card removed", "reader", reader)
		d.bus.Publish(events.CardRemoved, map[string]string{"reader": reader})
	}
}

func (d *Desk) forgetAll() {
	d.mu.Lock()
	readers := make([]string, 0, len(d.cards))
	for r := range d.cards {
		readers = append(readers, r)
	}
	d.mu.Unlock()
	for _, r := range readers {
		d.remove(r)
	}
}

// Card returns the identity of the card now in reader ("" for the desk's
// only, or first, reader). An expired card is returned with
// ErrCardExpired; a card that could not be read, with its error.
func (d *Desk) Card(reader string) (CardIdentity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if reader == "" {
		if len(d.seen) == 0 {
			return CardIdentity{}, ErrNoDeskReader
		}
		reader = d.seen[0]
	}
	c, ok := d.cards[reader]
	switch {
	case !ok && !slices.Contains(d.seen, reader):
		return CardIdentity{}, fmt.Errorf("%w: %q", ErrUnknownReader, reader)
	case !ok:
		return CardIdentity{}, fmt.Errorf("%w %q: ask the patient to insert the social-security card", ErrNoCard, reader)
	case c.err != nil:
		return CardIdentity{}, fmt.Errorf("reader %q: %w; ask the patient to take the card out and insert it again", reader, c.err)
	case c.id.Expired:
		return c.id, fmt.Errorf("%w on %s: settle by ID number at the window", ErrCardExpired, c.id.ExpiryDate)
	}
	return c.id, nil
}

// ReaderView is one reader for status and the API.
type ReaderView struct {
	Reader string        `json:"reader"`
	Card   *CardIdentity `json:"card,omitempty"` // masked
	Error  string        `json:"error,omitempty"`
}

// Readers lists the desk readers and what is in them, masked.
func (d *Desk) Readers() []ReaderView {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ReaderView, 0, len(d.seen))
	for _, r := range d.seen {
		v := ReaderView{Reader: r}
		if c, ok := d.cards[r]; ok {
			if c.err != nil {
				v.Error = c.err.Error()
			} else {
				m := c.id.Masked()
				v.Card = &m
			}
		}
		out = append(out, v)
	}
	return out
}

// identityFromCard is the settlement identity of a card read at the desk.
func identityFromCard(c CardIdentity) IdentityInput {
	return IdentityInput{CertType: CertSSCard, CertNo: c.CardNo, CardSN: c.CardSN, IDNo: c.IDNo, Name: c.Name}
}
