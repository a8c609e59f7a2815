package agent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/events"
)

const deskReader, psamReader = "Virtual PCD 00 00", "Virtual PCD 00 01"

func startDesk(t *testing.T, ids agenttest.Identities) (*agent.Desk, *agenttest.Readers, <-chan events.Event) {
	t.Helper()
	readers := agenttest.NewReaders()
	bus := events.NewBus(nil)
	sub := bus.Subscribe(16)
	d := agent.NewDesk(agent.DeskConfig{Readers: readers, Identifier: ids, Events: bus, Skip: []string{psamReader}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; sub.Close() })
	return d, readers, sub.C
}

func next(t *testing.T, evs <-chan events.Event) events.Event {
	t.Helper()
	select {
	case ev := <-evs:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return events.Event{}
	}
}

func TestInsertedCardIsReadAndAnnouncedMasked(t *testing.T) {
	d, readers, evs := startDesk(t, agenttest.Identities{deskReader: {CardNo: "D19880001", IDNo: "441900197504120115", Name: "陈建国", Version: "3.00", ExpiryDate: "2031-03-15", AccountNo: "6217000000198800017"}})
	readers.Set(agent.ReaderState{Reader: deskReader, Present: true, Counter: 1}, agent.ReaderState{Reader: psamReader, Present: true})
	ev := next(t, evs)
	if ev.Type != events.CardInserted {
		t.Fatalf("event %s", ev.Type)
	}
	if id := ev.Data.(agent.CardIdentity); id.Name != "陈**" || id.IDNo != "4419**********0115" || id.AccountNo != "6217 **** **** 0017" || id.Reader != deskReader {
		t.Fatalf("event data not masked or not complete: %+v", id)
	}
	id, err := d.Card("")
	if err != nil || id.Name != "陈建国" {
		t.Fatalf("Card(desk) = %+v, %v", id, err)
	}
	if _, err := d.Card(psamReader); !errors.Is(err, agent.ErrUnknownReader) {
		t.Fatalf("the PSAM reader is not a desk reader: %v", err)
	}
	readers.Set(agent.ReaderState{Reader: deskReader}, agent.ReaderState{Reader: psamReader, Present: true})
	if ev := next(t, evs); ev.Type != events.CardRemoved {
		t.Fatalf("event %s; want removal", ev.Type)
	}
	if _, err := d.Card(deskReader); !errors.Is(err, agent.ErrNoCard) {
		t.Fatalf("after removal: %v", err)
	}
}

func TestExpiredAndUnreadableCardsAreReportedWithWhatToDo(t *testing.T) {
	d, readers, evs := startDesk(t, agenttest.Identities{deskReader: {CardNo: "D1", Expired: true, ExpiryDate: "2020-05-31"}})
	readers.Set(agent.ReaderState{Reader: deskReader, Present: true, Counter: 1}, agent.ReaderState{Reader: "Other", Present: true, Counter: 1})
	next(t, evs)
	next(t, evs)
	if _, err := d.Card(deskReader); !errors.Is(err, agent.ErrCardExpired) {
		t.Fatalf("expired card: %v", err)
	}
	if _, err := d.Card("Other"); !errors.Is(err, agent.ErrCardUnreadable) {
		t.Fatalf("unreadable card: %v", err)
	}
}

func TestSwappedCardIsReadAgain(t *testing.T) {
	ids := agenttest.Identities{deskReader: {CardNo: "A"}}
	_, readers, evs := startDesk(t, ids)
	readers.Set(agent.ReaderState{Reader: deskReader, Present: true, Counter: 1})
	next(t, evs)
	readers.Set(agent.ReaderState{Reader: deskReader, Present: true, Counter: 3}) // out and in between two waits
	if ev := next(t, evs); ev.Type != events.CardInserted {
		t.Fatalf("a swapped card must be read again, got %s", ev.Type)
	}
}

func TestServiceFailureEndsRunForTheSupervisorAndForgetsCards(t *testing.T) {
	readers := agenttest.NewReaders()
	d := agent.NewDesk(agent.DeskConfig{Readers: readers, Identifier: agenttest.Identities{deskReader: {CardNo: "A"}}})
	readers.Set(agent.ReaderState{Reader: deskReader, Present: true, Counter: 1})
	readers.Fail() // pcscd went away
	if err := d.Run(context.Background()); err == nil {
		t.Fatal("Run returned nil after the service failed")
	}
	if _, err := d.Card(deskReader); err == nil {
		t.Fatal("a card is still reported after the service failed")
	}
}
