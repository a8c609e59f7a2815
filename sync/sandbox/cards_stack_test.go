//go:build linux

package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/pcsctest"
	"github.com/seed-a859fada/medterm/devices/psam"
	"github.com/seed-a859fada/medterm/devices/sscard"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// TestAPersonasCardReadsThroughPCSC inserts personas' cards through the
// admin API and reads them as a terminal does: ebfe/scard → pcscd → vpcd
// → the sandbox's virtual card, with the sandbox's PSAM in the second
// reader answering the 3.0 card's external authentication.
func TestAPersonasCardReadsThroughPCSC(t *testing.T) {
	s := pcsctest.Start(t)
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, data, func(o *sandbox.Options) {
		o.CardReaders, o.PSAMReader = []string{s.Card.Addr}, s.PSAM.Addr
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.PSAM.Name, true); err != nil {
		t.Fatalf("the sandbox's PSAM: %v", err)
	}
	_, keyID, _ := data.PSAMKey()
	module := psam.New(s.Reader, s.PSAM.Name)
	t.Cleanup(func() { module.Close() })
	terminal := &sscard.Reader{Module: module, KeyID: keyID, Clock: clock.NewFake(start)}
	read := func() (*sscard.Identity, error) {
		c, err := s.Reader.Connect(ctx, s.Card.Name)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return terminal.Read(ctx, c)
	}

	p := h.person("acct-first")
	if p.Card.Version != "3.00" {
		t.Fatalf("acct-first's card is %s; the test needs a 3.0 card", p.Card.Version)
	}
	status, body := h.admin(http.MethodPost, "/admin/cards/insert", `{"persona": "acct-first", "reader": 0}`)
	if status != 200 {
		t.Fatalf("insert: %d %s", status, body)
	}
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	id, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if id.IDNumber != p.Certno || id.Name != p.Name || id.CardNumber != p.Card.CardNo || id.CardID != p.Card.CardSn ||
		id.Version != "3.00" || id.BirthDate != p.BirthDate || id.Gender != p.Gender || id.Birthplace != p.Birthplace {
		t.Fatalf("read %+v, want acct-first's identity", id.LogValue())
	}
	var listing cards.Listing
	status, body = h.admin(http.MethodGet, "/admin/cards", "")
	if err := json.Unmarshal([]byte(body), &listing); err != nil || status != 200 ||
		len(listing.Readers) != 1 || listing.Readers[0].Persona != "acct-first" || listing.PSAM == nil || !listing.PSAM.Inserted {
		t.Fatalf("GET /admin/cards: %d %s", status, body)
	}
	if status, body := h.admin(http.MethodPost, "/admin/cards/insert", `{"persona": "bank-card"}`); status != http.StatusConflict {
		t.Fatalf("a second card into a full reader: %d %s", status, body)
	}

	if status, body := h.admin(http.MethodPost, "/admin/cards/remove", `{"reader": 0}`); status != 200 {
		t.Fatalf("remove: %d %s", status, body)
	}
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, false); err != nil {
		t.Fatal(err)
	}

	// A blocked card is inserted like any other and refuses to be read,
	// as the real one does.
	if status, body := h.admin(http.MethodPost, "/admin/cards/insert", `{"persona": "card-blocked"}`); status != 200 {
		t.Fatalf("insert card-blocked: %d %s", status, body)
	}
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	if _, err := read(); !errors.Is(err, apdu.ErrBlocked) {
		t.Fatalf("reading a blocked card: %v, want the card's 6983", err)
	}
	// Closing the platform takes the cards out of the readers.
	h.close()
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, false); err != nil {
		t.Fatal(err)
	}
}
