//go:build linux

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/devices/pcsctest"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// TestCardReadThroughTheRealStack reads a persona's 2.0 card with the CLI,
// through pcscd and vpcd, with no daemon running: masked JSON by default
// (the financial account too), the iReadCardBas string for a HIS's parser.
func TestCardReadThroughTheRealStack(t *testing.T) {
	s := pcsctest.Start(t)
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	card, p, err := cards.NewCard(data, "bank-card", cards.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	in := pcsctest.Insert(t, s.Card, card)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	cfg := "/nonexistent/medterm.toml" // reading a card needs no configuration
	out, err := runRoot(ctx, "card", "read", "--config", cfg, "--reader", s.Card.Name)
	if err != nil {
		t.Fatalf("card read: %v\n%s", err, out)
	}
	account := cards.AccountNo(p)
	if account == "" {
		t.Fatal("bank-card's card has no financial account; the test needs one")
	}
	if strings.Contains(out, p.Certno) || strings.Contains(out, p.Name) || strings.Contains(out, account) ||
		!strings.Contains(out, `"version": "2.00"`) || !strings.Contains(out, `"account_no": "`+mask.PAN(account)+`"`) {
		t.Fatalf("masked JSON expected:\n%s", out)
	}
	out, err = runRoot(ctx, "card", "read", "--config", cfg, "--reader", s.Card.Name, "--reveal")
	if err != nil || !strings.Contains(out, `"account_no": "`+account+`"`) || !strings.Contains(out, p.Certno) {
		t.Fatalf("card read --reveal: %v\n%s", err, out)
	}
	out, err = runRoot(ctx, "card", "read", "--config", cfg, "--reader", s.Card.Name, "--format", "ireadcardbas")
	if err != nil {
		t.Fatalf("card read --format ireadcardbas: %v\n%s", err, out)
	}
	fields := strings.Split(strings.TrimSpace(out), "|")
	if len(fields) != 12 || fields[1] != p.Certno || fields[2] != p.Card.CardNo || fields[4] != p.Name || fields[6] != "2.00" || strings.Contains(out, account) {
		t.Fatalf("iReadCardBas %q", out)
	}

	// A financial record with a wrong check digit: the holder is printed,
	// the account is reported missing, and the read succeeds.
	in.Remove()
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, false); err != nil {
		t.Fatal(err)
	}
	card, _, err = cards.NewCard(data, "bank-card", cards.Faults{AccountRecord: "700C5A0A6217000000198800026F"})
	if err != nil {
		t.Fatal(err)
	}
	pcsctest.Insert(t, s.Card, card)
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot(ctx, "card", "read", "--config", cfg, "--reader", s.Card.Name, "--reveal")
	if err != nil || !strings.Contains(out, p.Certno) || strings.Contains(out, "account_no") ||
		!strings.Contains(out, "financial account could not be read") || strings.Contains(out, "62170000001988") {
		t.Fatalf("card read of a card with a malformed financial record: %v\n%s", err, out)
	}
}

// card watch says what happened at the reader in words, the holder
// masked: never a Go struct.
func TestCardWatchSaysWhatHappenedInWords(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 5, 0, 0, time.UTC)
	var out bytes.Buffer
	id := agent.CardIdentity{Reader: "desk0", CardNo: "D19880001", IDNo: "441900197504120115", Name: "陈建国", Gender: "1",
		Version: "3.00", ExpiryDate: "2020-05-31", Expired: true}
	printCardEvent(&out, events.Event{Type: events.CardInserted, At: at, Data: id.Masked()})
	printCardEvent(&out, events.Event{Type: events.CardRemoved, At: at, Data: map[string]string{"reader": "desk0"}})
	got := out.String()
	for _, want := range []string{"09:05:00 插卡 card in", "陈**", "已过期 EXPIRED on 2020-05-31", "男 male", "拔卡 card out   desk0"} {
		if !strings.Contains(got, want) {
			t.Errorf("card watch lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "{") || strings.Contains(got, "441900197504120115") || strings.Contains(got, "陈建国") {
		t.Errorf("card watch prints a struct or the holder in clear:\n%s", got)
	}
}
