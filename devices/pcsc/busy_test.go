//go:build linux && cgo

package pcsc_test

import (
	"errors"
	"testing"

	"github.com/ebfe/scard"
	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/pcsctest"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// Holding a reader exclusively takes scard directly, as another program
// would; the rest of the stack tests also build without cgo, and fail
// there with ErrNoCgo.
func TestReaderHeldByAnotherProgramIsErrReaderBusy(t *testing.T) {
	s := pcsctest.Start(t)
	ctx := timeout(t)
	pcsctest.Insert(t, s.Card, card(t, vcard.Faults{}))
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	sc, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Release()
	excl, err := sc.Connect(s.Card.Name, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reader.Connect(ctx, s.Card.Name); !errors.Is(err, pcsc.ErrReaderBusy) {
		t.Errorf("reader held exclusively: %v, want ErrReaderBusy", err)
	}
	excl.Disconnect(scard.LeaveCard)
	c, err := s.Reader.Connect(ctx, s.Card.Name)
	if err != nil {
		t.Fatalf("after the other program let go: %v", err)
	}
	c.Close()
}
