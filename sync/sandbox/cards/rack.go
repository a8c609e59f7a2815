package cards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/vcard"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Rack is the vpcd card readers the sandbox serves cards into, and the
// reader of the hospital's PSAM. Its methods are safe for concurrent use.
type Rack struct {
	data   *personas.Dataset
	clock  clock.Clock
	log    *slog.Logger
	pulled func(reader int, persona string)

	mu      sync.Mutex
	readers []*reader
	psam    *reader
	closed  bool
}

// reader is one vpcd reader and the card in it, if any.
type reader struct {
	index int
	addr  string
	card  *inserted
	// pulled is the persona whose card a fault pulled out of this reader
	// since the last insertion, for List.
	pulled string
}

// inserted is a card being served: its vpcd connection lives as long as
// its context.
type inserted struct {
	persona, version string
	at               time.Time
	cancel           context.CancelFunc
	done             chan struct{}
}

// Slot is a card reader as the admin API shows it. It names the persona,
// never the holder's card number, ID number or name.
type Slot struct {
	Reader  int    `json:"reader"`
	Addr    string `json:"addr"`
	Persona string `json:"persona,omitempty"` // the card inserted; empty when none
	Version string `json:"version,omitempty"`
	Since   string `json:"since,omitempty"` // RFC 3339
	// Pulled is the persona whose card a scripted fault pulled out.
	Pulled string `json:"pulled,omitempty"`
}

// PSAMSlot is the PSAM reader as the admin API shows it.
type PSAMSlot struct {
	Addr     string `json:"addr"`
	Inserted bool   `json:"inserted"`
}

// Listing is the whole rack.
type Listing struct {
	Readers []Slot    `json:"readers"`
	PSAM    *PSAMSlot `json:"psam,omitempty"`
}

// Config says where the rack's readers are.
type Config struct {
	// Cards are the vpcd addresses of the card readers: reader 0, 1, ...
	Cards []string
	// PSAM, when set, is the vpcd address of the reader that the
	// hospital's PSAM is inserted into for as long as the rack is open.
	PSAM string
	// Clock stamps insertions; default the wall clock.
	Clock  clock.Clock
	Logger *slog.Logger
	// Pulled, when set, is called after a card's fault script pulled it
	// out of a reader and the reader shows empty.
	Pulled func(reader int, persona string)
}

// NewRack returns a rack of empty card readers, with the PSAM inserted if
// configured. Close removes every card.
func NewRack(d *personas.Dataset, cfg Config) (*Rack, error) {
	r := &Rack{data: d, clock: cfg.Clock, log: cfg.Logger, pulled: cfg.Pulled}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for i, a := range cfg.Cards {
		r.readers = append(r.readers, &reader{index: i, addr: a})
	}
	if cfg.PSAM != "" {
		p, err := NewPSAM(d)
		if err != nil {
			return nil, err
		}
		r.psam = &reader{index: -1, addr: cfg.PSAM}
		r.psam.card = r.serve(r.psam, p, "psam", "")
		r.log.Info("PSAM inserted", "addr", cfg.PSAM)
	}
	return r, nil
}

// Insert makes the persona's card and inserts it into a reader.
func (r *Rack) Insert(persona string, index int, f Faults) (Slot, error) {
	card, p, err := NewCard(r.data, persona, f)
	if err != nil {
		return Slot{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rd, err := r.reader(index)
	if err != nil {
		return Slot{}, err
	}
	if rd.card != nil {
		return Slot{}, fmt.Errorf("%w: reader %d holds %s's card", ErrOccupied, index, rd.card.persona)
	}
	rd.pulled = ""
	rd.card = r.serve(rd, card, persona, p.Card.Version)
	r.log.Info("card inserted", "reader", index, "persona", persona, "version", p.Card.Version)
	return rd.slot(), nil
}

// Remove takes the card out of a reader and returns the slot as it was.
// It returns once the card's connection to vpcd is closed.
func (r *Rack) Remove(index int) (Slot, error) {
	r.mu.Lock()
	rd, err := r.reader(index)
	if err != nil {
		r.mu.Unlock()
		return Slot{}, err
	}
	in := rd.card
	if in == nil {
		r.mu.Unlock()
		return Slot{}, fmt.Errorf("%w: reader %d", ErrEmpty, index)
	}
	was := rd.slot()
	rd.card = nil
	r.mu.Unlock()
	in.stop()
	r.log.Info("card removed", "reader", index, "persona", in.persona)
	return was, nil
}

// List shows every reader.
func (r *Rack) List() Listing {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := Listing{Readers: []Slot{}}
	for _, rd := range r.readers {
		l.Readers = append(l.Readers, rd.slot())
	}
	if r.psam != nil {
		l.PSAM = &PSAMSlot{Addr: r.psam.addr, Inserted: r.psam.card != nil}
	}
	return l
}

// Close removes every card and the PSAM.
func (r *Rack) Close() error {
	r.mu.Lock()
	var all []*inserted
	take := func(rd *reader) {
		if rd != nil && rd.card != nil {
			all = append(all, rd.card)
			rd.card = nil
		}
	}
	for _, rd := range r.readers {
		take(rd)
	}
	take(r.psam)
	r.closed = true
	r.mu.Unlock()
	for _, in := range all {
		in.stop()
	}
	return nil
}

func (r *Rack) reader(index int) (*reader, error) {
	if r.closed {
		return nil, fmt.Errorf("%w: the rack is closed", ErrReader)
	}
	if len(r.readers) == 0 {
		return nil, fmt.Errorf("%w: no card readers configured (serve --vpcd ADDR)", ErrReader)
	}
	if index < 0 || index >= len(r.readers) {
		return nil, fmt.Errorf("%w: reader %d; there are %d, from 0", ErrReader, index, len(r.readers))
	}
	return r.readers[index], nil
}

// serve inserts a into rd's vpcd reader until the card is removed or a
// fault pulls it. While vpcd is not listening (pcscd stopped), vcard.Serve
// keeps trying, as a card left in a reader is seen when the reader comes
// back.
func (r *Rack) serve(rd *reader, a vcard.Applet, persona, version string) *inserted {
	ctx, cancel := context.WithCancel(context.Background())
	in := &inserted{persona: persona, version: version, at: r.clock.Now(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		err := vcard.Serve(ctx, rd.addr, a)
		if errors.Is(err, vcard.ErrPulled) {
			r.mu.Lock()
			if rd.card == in {
				rd.card, rd.pulled = nil, persona
			}
			r.mu.Unlock()
			r.log.Info("card pulled out by its fault script", "reader", rd.index, "persona", persona)
			if r.pulled != nil {
				r.pulled(rd.index, persona)
			}
		}
	}()
	return in
}

func (in *inserted) stop() {
	in.cancel()
	<-in.done
}

func (rd *reader) slot() Slot {
	s := Slot{Reader: rd.index, Addr: rd.addr, Pulled: rd.pulled}
	if in := rd.card; in != nil {
		s.Persona, s.Version, s.Since = in.persona, in.version, in.at.Format(time.RFC3339)
	}
	return s
}
