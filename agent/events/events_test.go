package events_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/seed-a859fada/medterm/agent/events"
)

// seqs lists the seqs of evs, a Lost event as "lost@seq", so that a test
// can say where the notice must be.
func seqs(evs []events.Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		if ev.Type == events.Lost {
			out = append(out, fmt.Sprintf("lost@%d", ev.Seq))
			continue
		}
		out = append(out, fmt.Sprint(ev.Seq))
	}
	return out
}

func span(from, to int) []string {
	var out []string
	for s := from; s <= to; s++ {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

func TestSubscribersGetEventsInOrderStampedWithTheEpoch(t *testing.T) {
	b := events.NewBus(nil)
	sub := b.Subscribe(10)
	defer sub.Close()
	for i := 0; i < 3; i++ {
		b.Publish(events.CardInserted, i)
	}
	for want := uint64(1); want <= 3; want++ {
		ev := <-sub.C
		if ev.Seq != want || ev.Epoch != b.Epoch() || ev.Epoch == "" {
			t.Fatalf("got seq %d epoch %q; want seq %d epoch %q", ev.Seq, ev.Epoch, want, b.Epoch())
		}
	}
	if other := events.NewBus(nil); other.Epoch() == b.Epoch() {
		t.Fatal("two runs share an epoch: a client could not tell a restart")
	}
}

func TestASubscriberThatFallsAQueueBehindIsCutOffNeverSkipped(t *testing.T) {
	b := events.NewBus(nil)
	slow := b.Subscribe(2)
	for i := 0; i < 5; i++ {
		b.Publish(events.CardInserted, i)
	}
	var got []events.Event
	closed := false
drain: // what Publish sent is there already: it never waits
	for {
		select {
		case ev, ok := <-slow.C:
			if !ok {
				closed = true
				break drain
			}
			got = append(got, ev)
		default:
			break drain
		}
	}
	if !slices.Equal(seqs(got), []string{"1", "2"}) || !closed || !slow.Overflowed() {
		t.Fatalf("slow subscriber got %v, closed %v, overflowed %v; want 1 2 then cut off", seqs(got), closed, slow.Overflowed())
	}
	slow.Close() // after the bus closed it: no panic
	slow.Close()

	again := b.Resume(2, 2)
	defer again.Close()
	b.Publish(events.CardRemoved, nil)
	got = append(again.Replay, <-again.C)
	if !slices.Equal(seqs(got), span(3, 6)) || again.Overflowed() {
		t.Fatalf("resumed after 2: %v; want 3..6", seqs(got))
	}
}

func TestCloseEndsTheSubscriptionAndPublishingGoesOn(t *testing.T) {
	b := events.NewBus(nil)
	sub := b.Subscribe(1)
	sub.Close()
	sub.Close()
	if _, open := <-sub.C; open || sub.Overflowed() {
		t.Fatal("channel not closed after Close, or closed as an overflow")
	}
	b.Publish(events.CardRemoved, nil) // no panic on a closed subscriber
}

func TestResumeReplaysWhatIsBufferedAndSaysWhatIsLost(t *testing.T) {
	full := events.New(events.Options{Buffer: 4})
	for i := 0; i < 10; i++ {
		full.Publish(events.CardInserted, i)
	}
	// full holds 7..10.
	cases := []struct {
		name  string
		bus   *events.Bus
		after uint64
		want  []string
		gap   *events.Gap
	}{
		{"up to date", full, 10, nil, nil},
		{"missed two", full, 8, []string{"9", "10"}, nil},
		{"missed exactly the buffer", full, 6, span(7, 10), nil},
		{"one past the buffer", full, 5, append([]string{"lost@6"}, span(7, 10)...), &events.Gap{Reason: events.LostDropped, LastEventID: 5, From: 6, To: 6}},
		{"zero: everything, 1..6 gone", full, 0, append([]string{"lost@6"}, span(7, 10)...), &events.Gap{Reason: events.LostDropped, LastEventID: 0, From: 1, To: 6}},
		{"an earlier run's id", full, 11, append([]string{"lost@6"}, span(7, 10)...), &events.Gap{Reason: events.LostUnknownID, LastEventID: 11, From: 1, To: 6}},
		{"zero on a fresh bus", events.New(events.Options{Buffer: 4}), 0, nil, nil},
		{"an earlier run's id on a fresh bus", events.New(events.Options{Buffer: 4}), 3, []string{"lost@0"}, &events.Gap{Reason: events.LostUnknownID, LastEventID: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.bus.Resume(c.after, 0)
			defer s.Close()
			if got := seqs(s.Replay); !slices.Equal(got, c.want) {
				t.Fatalf("replay %v; want %v", got, c.want)
			}
			switch {
			case c.gap == nil && s.Gap != nil:
				t.Fatalf("gap %+v; want none", *s.Gap)
			case c.gap != nil && (s.Gap == nil || *s.Gap != *c.gap):
				t.Fatalf("gap %+v; want %+v", s.Gap, *c.gap)
			case c.gap != nil && s.Replay[0].Data != *c.gap:
				t.Fatalf("Lost event data %+v; want the gap", s.Replay[0].Data)
			}
		})
	}
}

// A subscriber resuming while events are being published gets each event
// once: the buffer snapshot and the subscription are one step.
func TestResumeDuringABurstNeitherLosesNorRepeats(t *testing.T) {
	const n = 2000
	b := events.New(events.Options{Buffer: n, Queue: n})
	var wg sync.WaitGroup
	results := make([][]string, 8)
	start := make(chan struct{})
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := b.Resume(0, 0)
			defer s.Close()
			got := seqs(s.Replay)
			for len(got) < n {
				got = append(got, fmt.Sprint((<-s.C).Seq))
			}
			results[i] = got
		}()
	}
	close(start)
	for i := 0; i < n; i++ {
		b.Publish(events.SettlementState, i)
	}
	wg.Wait()
	want := span(1, n)
	for i, got := range results {
		if !slices.Equal(got, want) {
			t.Errorf("subscriber %d: %d events, not 1..%d once each in order", i, len(got), n)
		}
	}
}
