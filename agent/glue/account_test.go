package glue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/sscard"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// account is an invented UnionPay debit account number with a valid check
// digit.
const account = "6217000000198800025"

func TestIdentifierCarriesTheFinancialAccount(t *testing.T) {
	p := profile()
	p.AccountNo = account
	got, err := glue.Identifier{R: &sscard.Reader{Clock: today}}.Identify(context.Background(), directCard(t, p, vcard.Faults{}))
	if err != nil {
		t.Fatal(err)
	}
	if got.AccountNo != account {
		t.Fatalf("account %q, want %s", got.AccountNo, account)
	}
	if m := got.Masked(); m.AccountNo != "6217 **** **** 0025" {
		t.Fatalf("masked account %q", m.AccountNo)
	}
}

// slots is a PC/SC reader with one desk reader, into which a test
// inserts virtual cards.
type slots struct {
	changes chan []pcsc.ReaderState
	current vcard.DirectCard // the card last inserted
}

func (s *slots) Readers(context.Context) ([]string, error) { return []string{"Desk"}, nil }
func (s *slots) WaitChange(ctx context.Context, _ []pcsc.ReaderState) ([]pcsc.ReaderState, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case st := <-s.changes:
		return st, nil
	}
}
func (s *slots) Connect(context.Context, string) (pcsc.Card, error) {
	return directPCSC{s.current}, nil
}

// insert puts the card in, as the n-th insertion.
func (s *slots) insert(c vcard.DirectCard, n int) {
	s.current = c
	s.changes <- []pcsc.ReaderState{{Reader: "Desk", Present: true, Counter: n}}
}

// directPCSC is a virtual card as a PC/SC connection.
type directPCSC struct{ vcard.DirectCard }

func (directPCSC) BeginTransaction() error { return nil }
func (directPCSC) EndTransaction() error   { return nil }

// The desk reads cards with and without a readable financial account,
// logging at debug level, and announces them: neither the log nor an
// event ever holds the account number in clear.
func TestTheAccountNumberNeverReachesTheLogOrTheEvents(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bus := events.NewBus(nil)
	sub := bus.Subscribe(16)
	defer sub.Close()
	readers := &slots{changes: make(chan []pcsc.ReaderState, 4)}
	desk := agent.NewDesk(agent.DeskConfig{
		Readers: glue.Readers{R: readers}, Events: bus, Logger: log,
		Identifier: glue.Identifier{R: &sscard.Reader{Clock: today}, Log: log},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- desk.Run(ctx) }()
	defer func() { cancel(); <-done }()

	good := profile()
	good.AccountNo = account
	cards := []struct {
		name   string
		card   vcard.DirectCard
		masked string // the account as the event shows it
	}{
		{"readable account", directCard(t, good, vcard.Faults{}), "6217 **** **** 0025"},
		// The check digit is wrong: the card is identified without it.
		{"malformed account", directCard(t, good, vcard.Faults{AccountRecord: []byte{
			0x70, 0x0C, 0x5A, 0x0A, 0x62, 0x17, 0x00, 0x00, 0x00, 0x19, 0x88, 0x00, 0x02, 0x6F}}), ""},
	}
	var seen []string
	for i, c := range cards {
		readers.insert(c.card, i+1)
		ev := nextEvent(t, sub.C, events.CardInserted)
		raw, _ := json.Marshal(ev.Data)
		seen = append(seen, string(raw))
		if id := ev.Data.(agent.CardIdentity); id.AccountNo != c.masked {
			t.Errorf("%s: event shows account %q, want %q", c.name, id.AccountNo, c.masked)
		}
		// The desk keeps the number for the payment leg.
		if id, err := desk.Card(""); err != nil || (c.masked != "" && id.AccountNo != account) {
			t.Errorf("%s: the desk holds %+v, %v", c.name, id, err)
		}
	}
	if !strings.Contains(logged.String(), "card read without its financial account") {
		t.Errorf("the malformed account was not reported:\n%s", logged.String())
	}
	for _, s := range append(seen, logged.String()) {
		for _, secret := range []string{account, "2170000001988000", "62170000001988"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows the account number:\n%s", secret, s)
			}
		}
	}
}

func nextEvent(t *testing.T, c <-chan events.Event, want string) events.Event {
	t.Helper()
	for {
		select {
		case ev := <-c:
			if ev.Type == want {
				return ev
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", want)
		}
	}
}
