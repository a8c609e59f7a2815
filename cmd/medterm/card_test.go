//go:build linux

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/devices/pcsctest"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// TestCardReadThroughTheRealStack reads a persona's 2.0 card with the CLI,
// through pcscd and vpcd, with no daemon running: masked JSON by default,
// the iReadCardBas string for a HIS's parser.
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
	pcsctest.Insert(t, s.Card, card)
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
	if strings.Contains(out, p.Certno) || strings.Contains(out, p.Name) || !strings.Contains(out, `"version": "2.00"`) {
		t.Fatalf("masked JSON expected:\n%s", out)
	}
	out, err = runRoot(ctx, "card", "read", "--config", cfg, "--reader", s.Card.Name, "--format", "ireadcardbas")
	if err != nil {
		t.Fatalf("card read --format ireadcardbas: %v\n%s", err, out)
	}
	fields := strings.Split(strings.TrimSpace(out), "|")
	if len(fields) != 12 || fields[1] != p.Certno || fields[2] != p.Card.CardNo || fields[4] != p.Name || fields[6] != "2.00" {
		t.Fatalf("iReadCardBas %q", out)
	}
}
