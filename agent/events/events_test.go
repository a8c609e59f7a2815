package events_test

import (
	"testing"

	"github.com/seed-a859fada/medterm/agent/events"
)

func TestSubscribersGetEventsInOrderAndSlowOnesSeeAGap(t *testing.T) {
	b := events.NewBus(nil)
	fast, cancelFast := b.Subscribe(10)
	slow, cancelSlow := b.Subscribe(1)
	defer cancelFast()
	for i := 0; i < 3; i++ {
		b.Publish(events.CardInserted, i)
	}
	for want := uint64(1); want <= 3; want++ {
		if ev := <-fast; ev.Seq != want {
			t.Fatalf("fast subscriber got seq %d; want %d", ev.Seq, want)
		}
	}
	if ev := <-slow; ev.Seq != 1 {
		t.Fatalf("slow subscriber's first event %d", ev.Seq)
	}
	b.Publish(events.CardRemoved, nil)
	if ev := <-slow; ev.Seq != 4 {
		t.Fatalf("slow subscriber got %d; want 4 (2 and 3 were dropped, not queued)", ev.Seq)
	}
	cancelSlow()
	cancelSlow() // idempotent
	if _, open := <-slow; open {
		t.Fatal("channel not closed after cancel")
	}
	b.Publish(events.CardRemoved, nil) // no panic on a cancelled subscriber
}
