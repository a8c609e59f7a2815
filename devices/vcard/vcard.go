// Package vcard is a virtual social-security card and a virtual PSAM for
// tests and the demo. Both speak the vsmartcard vpcd protocol over TCP, so
// the agent reads them through the real PC/SC stack (pcscd with the vpcd
// reader driver), and both can also be used in process through Direct.
//
// The card behaves like a T=0 card: SELECT answers 61xx and the FCI comes
// with GET RESPONSE, a wrong Le gets 6Cxx, records are read by tag, and on
// a 3.0 card EF06 needs external authentication with an SM4 key. A card
// with a financial function also carries the UnionPay debit application
// (PBOCDebit) with the account number in SFI 1 record 1; one without
// answers 6A82 to its SELECT. Faults can be scripted: a card pulled
// mid-read, GET RESPONSE chains on every record, 6Cxx before every record,
// corrupt records, a corrupt financial record.
package vcard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Addresses where vpcd's two readers wait for a virtual card, as the
// Debian package configures them.
const (
	CardAddr = "127.0.0.1:35963"
	PSAMAddr = "127.0.0.1:35964"
)

// vpcd control messages: one-byte payloads.
const (
	ctrlOff   = 0
	ctrlOn    = 1
	ctrlReset = 2
	ctrlATR   = 4
)

var (
	// ErrPulled: the card left the reader in the middle of a command, as
	// scripted by Faults.PullAfter.
	ErrPulled = errors.New("card pulled out of the reader")
	// ErrProfile: a Profile that cannot be written to a card.
	ErrProfile = errors.New("invalid card profile")
)

// Applet is what a virtual card runs: it answers vpcd's control messages
// and command APDUs.
type Applet interface {
	// ATR is the answer to reset.
	ATR() []byte
	// Reset clears the volatile state, as a power cycle does.
	Reset()
	// Process answers one command APDU. ErrPulled ends the connection
	// without an answer.
	Process(cmd []byte) ([]byte, error)
}

// Serve inserts the applet into the vpcd reader at addr and answers it
// until ctx ends (the card is removed: Serve returns nil) or the applet is
// pulled (ErrPulled). When the reader side goes away, as when pcscd stops,
// the card stays "inserted" and Serve reconnects until pcscd is back.
func Serve(ctx context.Context, addr string, a Applet) error {
	backoff := 5 * time.Millisecond
	for {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			backoff = 5 * time.Millisecond
			err = serveConn(ctx, conn.(*net.TCPConn), a)
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, ErrPulled) {
				return err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		// The reader is not listening (pcscd is down or restarting):
		// retry, as a card left in a reader is seen when it comes back.
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func serveConn(ctx context.Context, conn *net.TCPConn, a Applet) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	var hdr [2]byte
	for {
		// vpcd sends the length and the payload in two writes, and Nagle
		// holds the second until the first is acknowledged: without an
		// immediate ACK after every read (the kernel clears the flag),
		// each message waits for the ~40 ms delayed ACK.
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return fmt.Errorf("vpcd read: %w", err)
		}
		quickAck(conn)
		msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(conn, msg); err != nil {
			return fmt.Errorf("vpcd read: %w", err)
		}
		quickAck(conn)
		var out []byte
		switch {
		case len(msg) == 1 && msg[0] == ctrlATR:
			out = a.ATR()
		case len(msg) == 1:
			if msg[0] == ctrlOff || msg[0] == ctrlOn || msg[0] == ctrlReset {
				a.Reset()
			}
			continue
		default:
			resp, err := a.Process(msg)
			if err != nil {
				return err
			}
			out = resp
		}
		frame := make([]byte, 2+len(out))
		binary.BigEndian.PutUint16(frame, uint16(len(out)))
		copy(frame[2:], out)
		if _, err := conn.Write(frame); err != nil {
			return fmt.Errorf("vpcd write: %w", err)
		}
	}
}

// Direct returns the applet as a card connection in process, freshly
// powered on: unit tests read the virtual card without PC/SC. It has the
// methods of a PC/SC card connection, so it goes wherever one does.
func Direct(a Applet) DirectCard {
	a.Reset()
	return DirectCard{a}
}

// DirectCard is an applet connected in process.
type DirectCard struct{ a Applet }

// Transmit hands one command APDU to the applet.
func (d DirectCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.a.Process(cmd)
}

// ATR is the applet's answer to reset.
func (d DirectCard) ATR() []byte { return d.a.ATR() }

// Close does nothing: there is no connection to end.
func (d DirectCard) Close() error { return nil }
