//go:build linux

package main

import (
	"context"
	"strings"
	"testing"
	"time"

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
