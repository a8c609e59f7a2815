package sandbox_test

import (
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

func TestCardAdminRefusals(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, path, body string
		status           int
	}{
		{"no readers configured", "/admin/cards/insert", `{"persona": "acct-first"}`, http.StatusNotFound},
		{"an unknown persona", "/admin/cards/insert", `{"persona": "nobody"}`, http.StatusNotFound},
		{"a persona without a card", "/admin/cards/insert", `{"persona": "opaque-only"}`, http.StatusUnprocessableEntity},
		{"no persona", "/admin/cards/insert", `{"reader": 0}`, http.StatusBadRequest},
		{"an unknown field", "/admin/cards/insert", `{"persona": "acct-first", "slot": 1}`, http.StatusBadRequest},
		{"bad faults", "/admin/cards/insert", `{"persona": "acct-first", "faults": {"pull_after": -1}}`, http.StatusBadRequest},
		{"removing from no reader", "/admin/cards/remove", `{"reader": 0}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := h.admin(http.MethodPost, tt.path, tt.body); status != tt.status {
				t.Fatalf("%d %s, want %d", status, body, tt.status)
			}
		})
	}
	if status, body := h.admin(http.MethodGet, "/admin/cards", ""); status != 200 || body != "{\"readers\":[]}\n" {
		t.Fatalf("GET /admin/cards without readers: %d %q", status, body)
	}
}

func TestCardReadersMustBeOnThisMachine(t *testing.T) {
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []sandbox.Options{
		{CardReaders: []string{"192.0.2.1:35963"}},
		{CardReaders: []string{"127.0.0.1"}},
		{PSAMReader: "vpcd.example.com:35964"},
	} {
		o.Personas, o.Secrets = data, secrets
		p, err := sandbox.Open(filepath.Join(t.TempDir(), "s.db"), o)
		if !errors.Is(err, sandbox.ErrOptions) {
			if p != nil {
				p.Close()
			}
			t.Errorf("readers %q, PSAM %q: %v, want ErrOptions", o.CardReaders, o.PSAMReader, err)
		}
	}
}
