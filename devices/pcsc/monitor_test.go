//go:build cgo || windows

package pcsc

import (
	"testing"

	"github.com/ebfe/scard"
)

// Reader plugging cannot be driven through vpcd, whose readers are fixed
// at pcscd's start, so the bookkeeping around the PnP pseudo-reader is
// checked here on its own.

func TestRebuildKeepsKnownStatesAndEndsWithThePnPReader(t *testing.T) {
	old := []scard.ReaderState{
		{Reader: "A", CurrentState: scard.StatePresent | 3<<16},
		{Reader: "B", CurrentState: scard.StateEmpty},
		{Reader: PnPReader, CurrentState: 2 << 16},
	}
	got := rebuild(old, []string{"A", "C"})
	want := []scard.ReaderState{
		{Reader: "A", CurrentState: scard.StatePresent | 3<<16},
		{Reader: "C", CurrentState: scard.StateUnaware},
		{Reader: PnPReader, CurrentState: 2 << 16}, // what PC/SC last said, not our count
	}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i].Reader != want[i].Reader || got[i].CurrentState != want[i].CurrentState {
			t.Errorf("%d: %+v, want %+v", i, got[i], want[i])
		}
	}
	first := rebuild(nil, []string{"A", "B", "C"})
	if pnp := first[3]; pnp.Reader != PnPReader || pnp.CurrentState != 3<<16 {
		t.Errorf("first PnP entry %+v: the reader count goes in the high word", pnp)
	}
}

func TestConvertLeavesOutThePnPReaderAndVanishedReaders(t *testing.T) {
	got := convert([]scard.ReaderState{
		{Reader: "A", EventState: scard.StatePresent | scard.StateChanged | 5<<16, Atr: []byte{0x3B, 0x00}},
		{Reader: "B", EventState: scard.StateEmpty | 4<<16, Atr: []byte{0x3B}},
		{Reader: "C", EventState: scard.StatePresent | scard.StateMute | 1<<16},
		{Reader: "D", EventState: scard.StateUnknown | scard.StateIgnore | scard.StateChanged},
		{Reader: PnPReader, EventState: scard.StateChanged | 3<<16},
	})
	want := []ReaderState{
		{Reader: "A", Present: true, ATR: []byte{0x3B, 0x00}, Counter: 5},
		{Reader: "B", Counter: 4}, // an ATR left over from a card no longer there is dropped
		{Reader: "C", Present: true, Mute: true, Counter: 1},
	}
	if !sameStates(got, want) || len(got) != 3 {
		t.Fatalf("%+v\nwant %+v", got, want)
	}
}

func TestSameStatesIgnoresOrderButNotCounters(t *testing.T) {
	a := []ReaderState{{Reader: "A", Counter: 1}, {Reader: "B", Present: true, ATR: []byte{1}}}
	b := []ReaderState{{Reader: "B", Present: true, ATR: []byte{1}}, {Reader: "A", Counter: 1}}
	if !sameStates(a, b) {
		t.Error("order matters")
	}
	b[1].Counter = 2
	if sameStates(a, b) {
		t.Error("a swapped card (same state, new counter) went unnoticed")
	}
	if sameStates(a, a[:1]) {
		t.Error("a vanished reader went unnoticed")
	}
}
