package sandbox

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// openRack makes the card readers of the options. The addresses are vpcd's
// on this machine: a card's data must not leave it.
func openRack(d *personas.Dataset, opts Options) (*cards.Rack, error) {
	addrs := append([]string{opts.PSAMReader}, opts.CardReaders...)
	for i, a := range addrs {
		if i == 0 && a == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" || !loopbackListen(a) {
			return nil, fmt.Errorf("%w: card reader %q is not a loopback host:port (vpcd listens on 127.0.0.1:35963 and :35964)", ErrOptions, a)
		}
	}
	r, err := cards.NewRack(d, cards.Config{Cards: opts.CardReaders, PSAM: opts.PSAMReader, Clock: opts.Clock, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return r, nil
}

// Cards is the rack of card readers that the patients' cards go into.
func (p *Platform) Cards() *cards.Rack { return p.cards }

func (p *Platform) serveCards(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, p.cards.List())
}

// CardInsert is the body of POST /admin/cards/insert.
type CardInsert struct {
	Persona string       `json:"persona"`
	Reader  int          `json:"reader"`
	Faults  cards.Faults `json:"faults,omitzero"`
}

// CardRemove is the body of POST /admin/cards/remove.
type CardRemove struct {
	Reader int `json:"reader"`
}

func (p *Platform) serveCardInsert(w http.ResponseWriter, r *http.Request) {
	var req CardInsert
	if err := decodeAdmin(r, &req); err != nil || req.Persona == "" {
		http.Error(w, `want {"persona": KEY, "reader": N, "faults": {...}}`, http.StatusBadRequest)
		return
	}
	slot, err := p.cards.Insert(req.Persona, req.Reader, req.Faults)
	if err != nil {
		http.Error(w, err.Error(), cardStatus(err))
		return
	}
	writeJSON(w, http.StatusOK, slot)
}

func (p *Platform) serveCardRemove(w http.ResponseWriter, r *http.Request) {
	var req CardRemove
	if err := decodeAdmin(r, &req); err != nil {
		http.Error(w, `want {"reader": N}`, http.StatusBadRequest)
		return
	}
	slot, err := p.cards.Remove(req.Reader)
	if err != nil {
		http.Error(w, err.Error(), cardStatus(err))
		return
	}
	writeJSON(w, http.StatusOK, slot)
}

func cardStatus(err error) int {
	switch {
	case errors.Is(err, cards.ErrUnknownPersona), errors.Is(err, cards.ErrReader):
		return http.StatusNotFound
	case errors.Is(err, cards.ErrOccupied), errors.Is(err, cards.ErrEmpty):
		return http.StatusConflict
	case errors.Is(err, cards.ErrNoCard):
		return http.StatusUnprocessableEntity
	}
	return http.StatusBadRequest
}
