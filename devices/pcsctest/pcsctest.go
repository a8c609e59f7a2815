//go:build linux

// Package pcsctest gives integration tests the real PC/SC stack: pcscd
// with the vpcd virtual-reader driver (package vpcd), and virtual cards
// inserted into its two readers. It starts pcscd when none is running and
// stops it, by its pid, when the test ends. A test reserves the virtual
// readers with an exclusive file lock for as long as it uses them, so test
// packages that run in parallel never insert cards into each other's
// readers or stop each other's pcscd.
//
// A machine without pcscd or vpcd fails the test with a message naming
// what `make test` installs; it does not skip.
package pcsctest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/vcard"
	"github.com/seed-a859fada/medterm/devices/vpcd"
)

// Slot is one vpcd reader.
type Slot = vpcd.Slot

// Stack is pcscd with vpcd's readers, reserved for one test.
type Stack struct {
	// Reader is a PC/SC reader for the test, closed when the test ends.
	Reader *pcsc.Reader
	// Card and PSAM are the two virtual readers.
	Card, PSAM Slot

	s *vpcd.Stack
}

// Start reserves the virtual readers, starts pcscd if none runs, and
// waits until both vpcd readers are there. Everything is undone when tb
// ends.
func Start(tb testing.TB) *Stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := vpcd.Start(ctx)
	if errors.Is(err, pcsc.ErrNoCgo) {
		tb.Fatalf("the PC/SC stack tests need cgo: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	if s.Daemon == nil {
		tb.Logf("using the pcscd already running")
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return &Stack{Reader: s.Reader, Card: s.Card, PSAM: s.PSAM, s: s}
}

// Owned reports whether this test started the pcscd it uses.
func (s *Stack) Owned() bool { return s.s.Daemon != nil }

// StopDaemon stops pcscd. A test may only stop a daemon it started: with
// a system pcscd running, the test is skipped with a message saying so.
func (s *Stack) StopDaemon(tb testing.TB) {
	tb.Helper()
	if s.s.Daemon == nil {
		tb.Skip("a pcscd not started by this test is running; stopping it is not this test's to do")
	}
	if err := s.s.Daemon.Stop(); err != nil {
		tb.Error(err)
	}
	s.s.Daemon = nil
}

// StartDaemon starts pcscd again after StopDaemon and waits for the
// readers.
func (s *Stack) StartDaemon(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := vpcd.StartDaemon(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	s.s.Daemon = d
	conf, err := vpcd.ReadConf(vpcd.ConfFile)
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := vpcd.WaitReaders(ctx, s.Reader, conf); err != nil {
		tb.Fatal(err)
	}
}

// Inserted is a virtual card in a reader.
type Inserted struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Insert puts the applet into the slot's reader until Remove or the end of
// the test.
func Insert(tb testing.TB, slot Slot, a vcard.Applet) *Inserted {
	ctx, cancel := context.WithCancel(context.Background())
	in := &Inserted{cancel: cancel, done: make(chan struct{})}
	go func() {
		in.err = vcard.Serve(ctx, slot.Addr, a)
		close(in.done)
	}()
	tb.Cleanup(func() { in.Remove() })
	return in
}

// Remove takes the card out and returns how its service ended.
func (in *Inserted) Remove() error {
	in.cancel()
	<-in.done
	return in.err
}

// Done is closed when the card left by itself (pulled).
func (in *Inserted) Done() <-chan struct{} { return in.done }

// WaitCard waits, by reader events, until the reader holds a card
// (present) or is empty, and returns its state.
func WaitCard(ctx context.Context, r *pcsc.Reader, reader string, present bool) (pcsc.ReaderState, error) {
	return vpcd.WaitCard(ctx, r, reader, present)
}
