// Package events is the agent's in-process event bus: card inserted and
// removed, code scanned, settlement state changes, platform online and
// offline. The local API streams it to the HIS and the kiosk page as
// Server-Sent Events. Events carry no personal data in clear.
package events

import (
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
)

// Event is one thing that happened. Seq increases by one per event, so a
// subscriber can tell that it missed some.
type Event struct {
	Seq  uint64    `json:"seq"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Data any       `json:"data,omitempty"`
}

// Bus fans events out to subscribers. A subscriber that does not keep up
// loses events (it sees a gap in Seq) rather than slowing the publisher:
// a card read must never wait for a browser tab.
type Bus struct {
	mu   sync.Mutex
	seq  uint64
	subs map[chan Event]struct{}
	now  func() time.Time
}

// NewBus returns a bus stamping events with now.
func NewBus(now func() time.Time) *Bus {
	if now == nil {
		now = time.Now
	}
	return &Bus{subs: map[chan Event]struct{}{}, now: now}
}

// Publish sends an event to every subscriber that has room for it.
func (b *Bus) Publish(typ string, data any) Event {
	if b == nil {
		return Event{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	ev := Event{Seq: b.seq, Type: typ, At: b.now(), Data: data}
	for ch := range b.subs {
		select {
		case ch <- ev:
		default: // full: this subscriber misses it
		}
	}
	return ev
}

// Subscribe returns a channel of events from now on and a function that
// ends the subscription (and closes the channel).
func (b *Bus) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}
