//go:build cgo || windows

package pcsc

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// mon is the process's one PC/SC status wait. Every WaitChange, of every
// Reader, shares it: the scard binding keeps reader names for
// SCardGetStatusChange in a package-level map without a lock, so two
// concurrent waits would race, and one wait serves any number of callers
// anyway. The wait runs while someone is waiting and is cancelled
// (SCardCancel) when the last caller leaves.
var mon monitor

type monitor struct {
	mu      sync.Mutex
	waiters int
	run     *run // the current wait loop, nil before the first
}

// run is one life of the wait loop, from establishing its PC/SC context
// to an error or to the last caller leaving.
type run struct {
	sctx    *scard.Context // set once established, nil after release
	have    bool           // states holds a first answer
	states  []ReaderState
	changed chan struct{} // closed when states change or the run ends
	ended   bool
	err     error // why the run ended; nil when nobody was waiting
	done    chan struct{}
}

func (m *monitor) wait(ctx context.Context, closed <-chan struct{}, known []ReaderState) ([]ReaderState, error) {
	m.mu.Lock()
	m.waiters++
	defer m.leave()
	var sub *run
	for {
		rn := m.run
		if rn == nil || (rn.ended && (rn != sub || rn.err == nil)) {
			rn = &run{changed: make(chan struct{}), done: make(chan struct{})}
			m.run = rn
			go m.loop(rn)
		}
		sub = rn
		switch {
		case rn.ended:
			m.mu.Unlock()
			return nil, rn.err
		case rn.have && (known == nil || !sameStates(rn.states, known)):
			out := cloneStates(rn.states)
			m.mu.Unlock()
			return out, nil
		}
		ch := rn.changed
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-closed:
			return nil, ErrClosed
		case <-ch:
		}
		m.mu.Lock()
	}
}

// leave runs as wait returns, after wait has released m.mu. The last
// caller to leave stops the loop, so no PC/SC wait outlives its callers.
func (m *monitor) leave() {
	m.mu.Lock()
	m.waiters--
	rn := m.run
	if m.waiters > 0 || rn == nil || rn.ended {
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	// SCardCancel only interrupts a wait already in progress; the loop may
	// be just about to start one, so cancel again until it has stopped,
	// unless a new caller has come and the loop should go on.
	backoff := time.Millisecond
	for {
		m.mu.Lock()
		if m.waiters > 0 || rn.ended {
			m.mu.Unlock()
			return
		}
		if rn.sctx != nil {
			rn.sctx.Cancel()
		}
		m.mu.Unlock()
		t := time.NewTimer(backoff)
		select {
		case <-rn.done:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func (m *monitor) loop(rn *run) {
	err := m.watch(rn)
	m.mu.Lock()
	rn.ended, rn.err = true, err
	close(rn.changed)
	m.mu.Unlock()
	close(rn.done)
}

// watch follows every reader and the PnP pseudo-reader until the service
// fails or nobody waits any more.
func (m *monitor) watch(rn *run) error {
	sctx, err := scard.EstablishContext()
	if err != nil {
		return wrap("establish context", err)
	}
	m.mu.Lock()
	rn.sctx = sctx
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		rn.sctx = nil
		m.mu.Unlock()
		sctx.Release()
	}()

	var states []scard.ReaderState
	var names []string
	relist := true
	for {
		timeout := time.Duration(-1) // infinite
		if relist {
			now, err := listReaders(sctx)
			if err != nil {
				return wrap("list readers", err)
			}
			if states == nil || !slices.Equal(now, names) {
				// Report the new list at once, even if no card
				// changed. An unchanged list waits, so that a platform
				// that reports the PnP reader changed too eagerly
				// cannot make this loop spin.
				timeout = 0
			}
			names = now
			states = rebuild(states, names)
			relist = false
		}
		m.mu.Lock()
		stop := m.waiters == 0
		m.mu.Unlock()
		if stop {
			return nil
		}
		err := sctx.GetStatusChange(states, timeout)
		switch {
		case err == nil, errors.Is(err, scard.ErrTimeout):
		case errors.Is(err, scard.ErrCancelled):
			continue
		case errors.Is(err, scard.ErrUnknownReader), errors.Is(err, scard.ErrReaderUnavailable):
			relist = true // a reader went away between listing and waiting
			continue
		default:
			return wrap("wait for a change", err)
		}
		for i := range states {
			ev := states[i].EventState
			if ev&(scard.StateUnknown|scard.StateIgnore) != 0 && states[i].Reader != PnPReader {
				relist = true
			}
			states[i].CurrentState = ev &^ scard.StateChanged
		}
		if states[len(states)-1].EventState&scard.StateChanged != 0 {
			relist = true
		}
		m.publish(rn, convert(states))
	}
}

// rebuild makes the state list for names, keeping what is known about
// readers already followed and ending with the PnP pseudo-reader, whose
// current state carries the reader count in its high word.
func rebuild(old []scard.ReaderState, names []string) []scard.ReaderState {
	prev := map[string]scard.StateFlag{}
	for _, s := range old {
		prev[s.Reader] = s.CurrentState
	}
	out := make([]scard.ReaderState, 0, len(names)+1)
	for _, n := range names {
		out = append(out, scard.ReaderState{Reader: n, CurrentState: prev[n]})
	}
	pnp, ok := prev[PnPReader]
	if !ok {
		pnp = scard.StateFlag(len(names) << 16)
	}
	return append(out, scard.ReaderState{Reader: PnPReader, CurrentState: pnp})
}

// convert turns scard's states into ReaderStates, leaving out the PnP
// pseudo-reader and readers that vanished.
func convert(states []scard.ReaderState) []ReaderState {
	out := make([]ReaderState, 0, len(states))
	for _, s := range states {
		if s.Reader == PnPReader || s.EventState&(scard.StateUnknown|scard.StateIgnore) != 0 {
			continue
		}
		rs := ReaderState{
			Reader:  s.Reader,
			Present: s.EventState&scard.StatePresent != 0,
			Mute:    s.EventState&scard.StateMute != 0,
			// pcsc-lite and Windows count insertions and removals in
			// the high word.
			Counter: int(s.EventState>>16) & 0xFFFF,
		}
		if rs.Present {
			rs.ATR = bytes.Clone(s.Atr)
		}
		out = append(out, rs)
	}
	return out
}

func (m *monitor) publish(rn *run, states []ReaderState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rn.have && sameStates(rn.states, states) {
		return
	}
	rn.states, rn.have = states, true
	close(rn.changed)
	rn.changed = make(chan struct{})
}

// sameStates compares two reader lists in any order.
func sameStates(a, b []ReaderState) bool {
	if len(a) != len(b) {
		return false
	}
	byName := make(map[string]ReaderState, len(b))
	for _, s := range b {
		byName[s.Reader] = s
	}
	for _, x := range a {
		y, ok := byName[x.Reader]
		if !ok || x.Present != y.Present || x.Mute != y.Mute || x.Counter != y.Counter || !bytes.Equal(x.ATR, y.ATR) {
			return false
		}
	}
	return true
}

func cloneStates(s []ReaderState) []ReaderState {
	out := make([]ReaderState, len(s))
	for i, x := range s {
		x.ATR = bytes.Clone(x.ATR)
		out[i] = x
	}
	return out
}
