package glue_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/pcsc"
)

// fakePCSC records what WaitChange was asked and answers from a script.
type fakePCSC struct {
	asked   [][]pcsc.ReaderState
	answer  []pcsc.ReaderState
	err     error
	connect func(reader string) (pcsc.Card, error)
}

func (f *fakePCSC) Readers(context.Context) ([]string, error) { return []string{"A"}, f.err }
func (f *fakePCSC) WaitChange(_ context.Context, known []pcsc.ReaderState) ([]pcsc.ReaderState, error) {
	f.asked = append(f.asked, known)
	return f.answer, f.err
}
func (f *fakePCSC) Connect(_ context.Context, reader string) (pcsc.Card, error) {
	return f.connect(reader)
}

// transacting is a pcsc.Card that records its transactions.
type transacting struct {
	pcsc.Card
	began bool
}

func (t *transacting) BeginTransaction() error { t.began = true; return nil }

func TestReadersCarryEveryFieldAndKeepNilApartFromEmpty(t *testing.T) {
	ctx := context.Background()
	f := &fakePCSC{answer: []pcsc.ReaderState{{Reader: "A", Present: true, ATR: []byte{0x3B}, Mute: true, Counter: 7}}}
	r := glue.Readers{R: f}

	got, err := r.WaitChange(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []agent.ReaderState{{Reader: "A", Present: true, ATR: []byte{0x3B}, Mute: true, Counter: 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("states %+v, want %+v", got, want)
	}
	if _, err := r.WaitChange(ctx, []agent.ReaderState{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WaitChange(ctx, got); err != nil {
		t.Fatal(err)
	}
	switch {
	case f.asked[0] != nil:
		t.Error("nil known (the current state at once) reached PC/SC as a list")
	case f.asked[1] == nil || len(f.asked[1]) != 0:
		t.Error("an empty known (no readers) reached PC/SC as nil")
	case !reflect.DeepEqual(f.asked[2], f.answer):
		t.Errorf("known %+v reached PC/SC as %+v", got, f.asked[2])
	}

	f.answer, f.err = nil, pcsc.ErrServiceStopped
	if _, err := r.WaitChange(ctx, nil); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Errorf("WaitChange error %v, want the reader's", err)
	}
}

func TestReadersHandTheConnectionOnAsItIs(t *testing.T) {
	card := &transacting{}
	f := &fakePCSC{connect: func(reader string) (pcsc.Card, error) {
		if reader != "A" {
			return nil, pcsc.ErrReaderGone
		}
		return card, nil
	}}
	r := glue.Readers{R: f}
	c, err := r.Connect(context.Background(), "A")
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.(apdu.Transactor)
	if !ok {
		t.Fatal("the connection lost its transactions on the way to the core")
	}
	_ = tr.BeginTransaction()
	if !card.began {
		t.Error("BeginTransaction did not reach the PC/SC card")
	}
	c, err = r.Connect(context.Background(), "B")
	if !errors.Is(err, pcsc.ErrReaderGone) || c != nil {
		t.Errorf("Connect to a missing reader = %v, %v; want a nil card and the reader's error", c, err)
	}
}
