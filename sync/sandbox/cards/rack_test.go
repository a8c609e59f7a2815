package cards_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
)

// fakeVPCD is one vpcd reader's listening side: it accepts the card's
// connection and talks vpcd's framing (2-byte length, then the payload;
// one byte is a control message), so the rack is tested without pcscd.
type fakeVPCD struct {
	t     *testing.T
	ln    net.Listener
	conns chan net.Conn
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeVPCD{t: t, ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(f.conns)
				return
			}
			f.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeVPCD) addr() string { return f.ln.Addr().String() }

// card waits for a card to connect.
func (f *fakeVPCD) card() net.Conn {
	f.t.Helper()
	select {
	case c := <-f.conns:
		f.t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	case <-time.After(10 * time.Second):
		f.t.Fatal("no card connected to the reader")
		return nil
	}
}

// exchange sends a payload and returns the card's answer.
func exchange(t *testing.T, c net.Conn, payload []byte) ([]byte, error) {
	t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := c.Write(append(frame, payload...)); err != nil {
		return nil, err
	}
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	out := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(c, out)
	return out, err
}

// gone reports whether the card closed its connection.
func gone(t *testing.T, c net.Conn) bool {
	t.Helper()
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

func TestTheRackServesAPersonasCardUntilRemoved(t *testing.T) {
	d := dataset(t)
	reader0, reader1, psamReader := newFakeVPCD(t), newFakeVPCD(t), newFakeVPCD(t)
	rack, err := cards.NewRack(d, cards.Config{Cards: []string{reader0.addr(), reader1.addr()}, PSAM: psamReader.addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rack.Close() })

	// The PSAM is in its reader from the start.
	pc := psamReader.card()
	if atr, err := exchange(t, pc, []byte{4}); err != nil || !bytes.Contains(atr, []byte("PSAM")) {
		t.Fatalf("PSAM ATR %X, %v", atr, err)
	}

	slot, err := rack.Insert("acct-first", 1, cards.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	if slot.Reader != 1 || slot.Persona != "acct-first" || slot.Version != "3.00" || slot.Addr != reader1.addr() {
		t.Fatalf("inserted %+v", slot)
	}
	c := reader1.card()
	atr, err := exchange(t, c, []byte{4})
	p, _ := d.ByKey("acct-first")
	tail, _ := hex.DecodeString(p.Card.CardSn[16:])
	if err != nil || !bytes.HasPrefix(atr, []byte{0x3B, 0x6C, 0, 0, 'S', 'S', 'C', '3'}) || !bytes.HasSuffix(atr, tail) {
		t.Fatalf("card ATR %X, %v", atr, err)
	}
	// SELECT SSSE answers 61xx, as a T=0 card does.
	sel := append([]byte{0x00, 0xA4, 0x04, 0x00, 0x0F}, []byte("sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF")...)
	if resp, err := exchange(t, c, sel); err != nil || len(resp) != 2 || resp[0] != 0x61 {
		t.Fatalf("SELECT: %X, %v", resp, err)
	}

	if _, err := rack.Insert("bank-card", 1, cards.Faults{}); !errors.Is(err, cards.ErrOccupied) {
		t.Fatalf("a second card into reader 1: %v", err)
	}
	l := rack.List()
	if len(l.Readers) != 2 || l.Readers[0].Persona != "" || l.Readers[1].Persona != "acct-first" || l.PSAM == nil || !l.PSAM.Inserted {
		t.Fatalf("list %+v", l)
	}

	was, err := rack.Remove(1)
	if err != nil || was.Persona != "acct-first" {
		t.Fatalf("remove: %+v, %v", was, err)
	}
	if !gone(t, c) {
		t.Fatal("the card's connection is still open after Remove")
	}
	if _, err := rack.Remove(1); !errors.Is(err, cards.ErrEmpty) {
		t.Fatalf("removing from an empty reader: %v", err)
	}
	for _, bad := range []int{-1, 2} {
		if _, err := rack.Insert("acct-first", bad, cards.Faults{}); !errors.Is(err, cards.ErrReader) {
			t.Errorf("reader %d: %v", bad, err)
		}
	}

	if err := rack.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(t, pc) {
		t.Fatal("the PSAM is still in its reader after Close")
	}
	if _, err := rack.Insert("acct-first", 0, cards.Faults{}); !errors.Is(err, cards.ErrReader) {
		t.Fatalf("insert after Close: %v", err)
	}
}

func TestACardPulledByItsFaultLeavesTheReaderEmpty(t *testing.T) {
	d := dataset(t)
	vpcd := newFakeVPCD(t)
	pulled := make(chan string, 1)
	rack, err := cards.NewRack(d, cards.Config{Cards: []string{vpcd.addr()}, Pulled: func(_ int, persona string) { pulled <- persona }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rack.Close() })
	if _, err := rack.Insert("bank-card", 0, cards.Faults{PullAfter: 2}); err != nil {
		t.Fatal(err)
	}
	c := vpcd.card()
	if _, err := exchange(t, c, []byte{0x00, 0x84, 0x00, 0x00, 0x08}); err != nil {
		t.Fatalf("first APDU: %v", err)
	}
	if resp, err := exchange(t, c, []byte{0x00, 0x84, 0x00, 0x00, 0x08}); err == nil {
		t.Fatalf("the second APDU was answered %X; the card should be pulled", resp)
	}
	select {
	case who := <-pulled:
		if who != "bank-card" {
			t.Fatalf("pulled %q", who)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rack did not notice the pull")
	}
	if l := rack.List(); l.Readers[0].Persona != "" || l.Readers[0].Pulled != "bank-card" {
		t.Fatalf("reader after the pull: %+v", l.Readers[0])
	}
	if _, err := rack.Insert("acct-first", 0, cards.Faults{}); err != nil {
		t.Fatalf("the next card: %v", err)
	}
	if l := rack.List(); l.Readers[0].Pulled != "" || l.Readers[0].Persona != "acct-first" {
		t.Fatalf("after the next insertion: %+v", l.Readers[0])
	}
}
