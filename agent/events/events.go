// Package events is the agent's in-process event bus: card inserted and
// removed, code scanned, settlement state changes, platform online and
// offline. The local API streams it to the HIS and the kiosk page as
// Server-Sent Events. Events carry no personal data in clear.
//
// The bus keeps the latest events in a bounded ring so that a client that
// dropped its stream can come back with the last seq it saw and be given
// what it missed. A client is never left with a silent gap: either it is
// replayed every event after its seq, or it is told first (a Lost event)
// that some are gone and it must resync from the settlement list.
package events

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Event types.
const (
	CardInserted    = "card.inserted"
	CardRemoved     = "card.removed"
	CardError       = "card.error"
	CodeScanned     = "code.scanned"
	SettlementState = "settlement.state"
	PlatformOnline  = "platform.online"
	PlatformOffline = "platform.offline"
	// Lost is never published: a subscription that asked for events the
	// bus no longer holds starts with one, its Data a Gap.
	Lost = "events.lost"
)

// Defaults of Options.
const (
	DefaultBuffer = 1024
	DefaultQueue  = 64
)

// Why a Gap happened.
const (
	// LostDropped: the events came and have left the ring since.
	LostDropped = "dropped"
	// LostUnknownID: the subscriber's seq is newer than anything this
	// process published; it was given by an earlier run of the daemon.
	LostUnknownID = "unknown_id"
)

// Event is one thing that happened. Seq increases by one per event within
// one run of the daemon (Epoch), so a subscriber can tell that it missed
// some; it starts again at 1 when the daemon restarts, with a new Epoch.
type Event struct {
	Seq   uint64    `json:"seq"`
	Type  string    `json:"type"`
	At    time.Time `json:"at"`
	Epoch string    `json:"epoch"`
	Data  any       `json:"data,omitempty"`
}

// Gap is the Data of a Lost event: events after LastEventID that cannot be
// replayed. From and To are the seqs of this run that are gone (both 0
// when none of this run's are: the client's id was an earlier run's).
type Gap struct {
	Reason      string `json:"reason"`
	LastEventID uint64 `json:"last_event_id"`
	From        uint64 `json:"from,omitempty"`
	To          uint64 `json:"to,omitempty"`
}

// Options tune a Bus; a zero field takes its default.
type Options struct {
	Now func() time.Time
	// Buffer is how many of the latest events are kept for replay.
	Buffer int
	// Queue is how many events a subscriber may fall behind the
	// publisher before it is cut off, when Subscribe is given 0.
	Queue int
}

// Bus fans events out to subscribers and keeps the latest for replay. A
// subscriber that does not keep up is cut off (its channel is closed)
// rather than slowing the publisher, because a card read must never wait
// for a browser tab; and rather than silently skipping events, because a
// HIS that misses a settlement state would show the wrong bill as paid.
// It resubscribes after the last seq it got and is replayed the rest.
type Bus struct {
	mu    sync.Mutex
	seq   uint64
	ring  []Event // event seq is at ring[(seq-1) % len(ring)]
	subs  map[*subscriber]struct{}
	now   func() time.Time
	queue int
	epoch string
}

type subscriber struct {
	ch         chan Event
	ended      bool // channel closed; guarded by Bus.mu
	overflowed bool
}

// NewBus returns a bus with the default buffer, stamping events with now.
func NewBus(now func() time.Time) *Bus { return New(Options{Now: now}) }

// New returns a bus.
func New(o Options) *Bus {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand panics instead)
	return &Bus{
		ring: make([]Event, o.Buffer), subs: map[*subscriber]struct{}{},
		now: o.Now, queue: o.Queue, epoch: hex.EncodeToString(id[:]),
	}
}

// Epoch identifies this bus, hence this run of the daemon: seqs are only
// comparable within one epoch.
func (b *Bus) Epoch() string { return b.epoch }

// Publish records an event and sends it to every subscriber, cutting off
// those whose queue is full. It never blocks on a subscriber.
func (b *Bus) Publish(typ string, data any) Event {
	if b == nil {
		return Event{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	ev := Event{Seq: b.seq, Type: typ, At: b.now(), Epoch: b.epoch, Data: data}
	b.ring[(b.seq-1)%uint64(len(b.ring))] = ev
	for s := range b.subs {
		select {
		case s.ch <- ev:
		default:
			s.overflowed = true
			b.end(s)
		}
	}
	return ev
}

// Subscription is a subscriber's view of the bus: Replay first, then C.
// Together they hold every event after the point subscribed from, each
// once and in order, unless Replay starts with a Lost event.
type Subscription struct {
	// Replay is what was buffered after the seq asked for, taken under
	// the same lock as the subscription so that nothing published in
	// between is missed or repeated. It starts with a Lost event when
	// events were lost; that event's Seq is the one before the first
	// replayed, so a subscriber resuming after it is not told again.
	Replay []Event
	// C is the live events. It is closed by Close, or by the bus when the
	// subscriber fell a whole queue behind (Overflowed then reports true).
	C <-chan Event
	// Gap is the Data of the Lost event, if any.
	Gap *Gap

	bus *Bus
	sub *subscriber
}

// Subscribe returns a subscription to the events published from now on.
// queue bounds how far the subscriber may fall behind (0: the bus's).
func (b *Bus) Subscribe(queue int) *Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.add(queue)
}

// Resume returns a subscription to every event after seq after: those
// still buffered, then those published from now on. 0 asks for everything
// the bus holds. When events after it are gone, Replay starts with a Lost
// event and then holds everything buffered.
func (b *Bus) Resume(after uint64, queue int) *Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.add(queue)
	oldest := uint64(1)
	if n := uint64(len(b.ring)); b.seq > n {
		oldest = b.seq - n + 1
	}
	from := after + 1
	switch {
	case after > b.seq:
		// Seqs start again at 1 with each run, so an id above the newest
		// one is an earlier run's: whatever that run published after it,
		// and whatever this run has already dropped, is not here.
		// Replaying from the id as if it were ours would skip events.
		s.Gap = &Gap{Reason: LostUnknownID, LastEventID: after}
		if oldest > 1 {
			s.Gap.From, s.Gap.To = 1, oldest-1
		}
		from = oldest
	case from < oldest:
		s.Gap = &Gap{Reason: LostDropped, LastEventID: after, From: from, To: oldest - 1}
		from = oldest
	}
	if s.Gap != nil {
		s.Replay = append(s.Replay, Event{Seq: from - 1, Type: Lost, At: b.now(), Epoch: b.epoch, Data: *s.Gap})
	}
	for seq := from; seq <= b.seq; seq++ {
		s.Replay = append(s.Replay, b.ring[(seq-1)%uint64(len(b.ring))])
	}
	return s
}

// add registers a subscriber; b.mu is held.
func (b *Bus) add(queue int) *Subscription {
	if queue <= 0 {
		queue = b.queue
	}
	sub := &subscriber{ch: make(chan Event, queue)}
	b.subs[sub] = struct{}{}
	return &Subscription{C: sub.ch, bus: b, sub: sub}
}

// end closes a subscriber's channel once; b.mu is held.
func (b *Bus) end(s *subscriber) {
	if s.ended {
		return
	}
	s.ended = true
	delete(b.subs, s)
	close(s.ch)
}

// Close ends the subscription and closes C. It may be called more than
// once, and after the bus cut the subscriber off.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.bus.end(s.sub)
}

// Overflowed reports whether the bus cut the subscriber off for falling
// behind: it should resume after the last seq it got.
func (s *Subscription) Overflowed() bool {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.sub.overflowed
}
