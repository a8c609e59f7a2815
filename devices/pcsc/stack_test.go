//go:build linux

package pcsc_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/pcsctest"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// These tests run against pcscd with the vpcd driver and virtual cards
// (see package pcsctest): the real ebfe/scard → libpcsclite → pcscd →
// vpcd path.

func card(t *testing.T, f vcard.Faults) *vcard.Card {
	t.Helper()
	c, err := vcard.NewCard(vcard.Profile{
		Version: "2.00", CardID: bytes.Repeat([]byte{0x44}, 16), CardType: '1',
		IssueDate: "20200101", ExpiryDate: "20300101", CardNumber: "A12345678",
		IDNumber: "440106199003071231", Name: "张三", Gender: '1', Ethnicity: "01",
		Birthplace: "4401", BirthDate: "19900307",
	}, f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var selectSSSE = apdu.Command{INS: 0xA4, P1: 0x04, Data: vcard.SSSE}

func state(states []pcsc.ReaderState, reader string) pcsc.ReaderState {
	for _, s := range states {
		if s.Reader == reader {
			return s
		}
	}
	return pcsc.ReaderState{}
}

func TestListsTheVirtualReaders(t *testing.T) {
	s := pcsctest.Start(t)
	names, err := s.Reader.Readers(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, s.Card.Name) || !slices.Contains(names, s.PSAM.Name) {
		t.Fatalf("readers %q lack %q and %q", names, s.Card.Name, s.PSAM.Name)
	}
}

func TestWaitChangeFollowsInsertionAndRemoval(t *testing.T) {
	s := pcsctest.Start(t)
	ctx := timeout(t)
	before, err := s.Reader.WaitChange(ctx, nil) // nil: the current state at once
	if err != nil {
		t.Fatal(err)
	}
	if state(before, s.Card.Name).Present {
		t.Fatal("the card reader is not empty at the start")
	}

	vc := card(t, vcard.Faults{})
	in := pcsctest.Insert(t, s.Card, vc)
	inserted, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inserted.ATR, vc.ATR()) {
		t.Fatalf("ATR %X, want %X", inserted.ATR, vc.ATR())
	}
	if inserted.Counter == state(before, s.Card.Name).Counter {
		t.Fatal("the event counter did not move on insertion")
	}

	in.Remove()
	removed, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, false)
	if err != nil {
		t.Fatal(err)
	}
	if removed.Counter == inserted.Counter || removed.ATR != nil {
		t.Fatalf("after removal: %+v", removed)
	}
}

func TestWaitChangeEndsWithItsContext(t *testing.T) {
	s := pcsctest.Start(t)
	now, err := s.Reader.WaitChange(timeout(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second round proves the shared wait restarts cleanly
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := s.Reader.WaitChange(ctx, now)
			done <- err
		}()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	}
}

func TestCloseEndsAPendingWait(t *testing.T) {
	s := pcsctest.Start(t)
	r := pcsc.New()
	now, err := r.WaitChange(timeout(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.WaitChange(timeout(t), now)
		done <- err
	}()
	r.Close()
	if err := <-done; !errors.Is(err, pcsc.ErrClosed) {
		t.Fatalf("err %v, want ErrClosed", err)
	}
	// Other readers are not affected.
	if _, err := s.Reader.WaitChange(timeout(t), nil); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWaitersAllSeeTheInsertion(t *testing.T) {
	s := pcsctest.Start(t)
	ctx := timeout(t)
	other := pcsc.New()
	defer other.Close()
	now, err := s.Reader.WaitChange(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, r := range []*pcsc.Reader{s.Reader, s.Reader, other, other} {
		wg.Go(func() {
			_, err := pcsctest.WaitCard(ctx, r, s.Card.Name, true)
			errs <- err
		})
	}
	_ = now
	pcsctest.Insert(t, s.Card, card(t, vcard.Faults{}))
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestConnectErrors(t *testing.T) {
	s := pcsctest.Start(t)
	ctx := timeout(t)
	if _, err := s.Reader.Connect(ctx, s.Card.Name); !errors.Is(err, pcsc.ErrNoCard) {
		t.Errorf("empty reader: %v, want ErrNoCard", err)
	}
	if _, err := s.Reader.Connect(ctx, "No Such Reader 00 00"); !errors.Is(err, pcsc.ErrReaderGone) {
		t.Errorf("unknown reader: %v, want ErrReaderGone", err)
	}

}

func TestCardPulledMidExchange(t *testing.T) {
	s := pcsctest.Start(t)
	ctx := timeout(t)
	pcsctest.Insert(t, s.Card, card(t, vcard.Faults{PullAfter: 3}))
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	c, err := s.Reader.Connect(ctx, s.Card.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := apdu.Exchange(ctx, c, selectSSSE); err != nil { // SELECT and GET RESPONSE
		t.Fatal(err)
	}
	_, err = apdu.Exchange(ctx, c, selectSSSE) // pulled on its SELECT
	if !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("err %v, want ErrCardRemoved", err)
	}
	if _, err := c.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00}); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("the old connection after removal: %v", err)
	}

	// The next card is read by the same Reader, nothing restarted.
	pcsctest.Insert(t, s.Card, card(t, vcard.Faults{}))
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	c2, err := s.Reader.Connect(ctx, s.Card.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := apdu.Exchange(ctx, c2, selectSSSE); err != nil {
		t.Fatal(err)
	}
}

func TestRecoversWhenPCSCDRestarts(t *testing.T) {
	s := pcsctest.Start(t)
	ctx := timeout(t)
	pcsctest.Insert(t, s.Card, card(t, vcard.Faults{}))
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	old, err := s.Reader.Connect(ctx, s.Card.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	s.StopDaemon(t)
	if _, err := s.Reader.Readers(ctx); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Errorf("Readers: %v, want ErrServiceStopped", err)
	}
	if _, err := s.Reader.WaitChange(ctx, nil); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Errorf("WaitChange: %v, want ErrServiceStopped", err)
	}
	if _, err := s.Reader.Connect(ctx, s.Card.Name); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Errorf("Connect: %v, want ErrServiceStopped", err)
	}
	if _, err := old.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00}); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Errorf("Transmit: %v, want ErrServiceStopped", err)
	}

	s.StartDaemon(t) // the virtual card, still "in the reader", reconnects
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	c, err := s.Reader.Connect(ctx, s.Card.Name)
	if err != nil {
		t.Fatalf("Connect after the restart: %v", err)
	}
	defer c.Close()
	if _, err := apdu.Exchange(ctx, c, selectSSSE); err != nil {
		t.Fatalf("exchange after the restart: %v", err)
	}
}
