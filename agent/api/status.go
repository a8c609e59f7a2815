package api

import (
	"time"

	"github.com/seed-a859fada/medterm/agent"
)

// Status is the answer of GET /v1/status and what `medterm status`
// prints: enough for a monitoring script and for a cashier's one line.
type Status struct {
	Version string `json:"version"`
	// Schema is the journal's schema version; StartedAt and
	// UptimeSeconds say since when this daemon runs.
	Schema        int            `json:"schema,omitempty"`
	StartedAt     time.Time      `json:"started_at,omitzero"`
	UptimeSeconds int64          `json:"uptime_seconds,omitempty"`
	Terminal      string         `json:"terminal"`
	Online        bool           `json:"online"`
	Platform      PlatformStatus `json:"platform"`
	Backlog       BacklogStatus  `json:"backlog"`
	LastError     string         `json:"last_error,omitempty"`
	// JournalError is why the journal could not be read, when it could not.
	JournalError string             `json:"journal_error,omitempty"`
	Forwarder    any                `json:"forwarder,omitempty"`
	States       map[string]int     `json:"states"`
	Cards        []agent.ReaderView `json:"cards,omitempty"`
	Reconcile    *ReconcileStatus   `json:"reconcile,omitempty"`
	Scanners     any                `json:"scanners,omitempty"`
}

// PlatformStatus is what the agent last learnt about the platform.
type PlatformStatus struct {
	URL         string    `json:"url"`
	Reachable   bool      `json:"reachable"`
	LastOK      time.Time `json:"last_ok,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// BacklogStatus is the deferred bills waiting for the platform.
type BacklogStatus struct {
	Count         int    `json:"count"`
	AmountFen     int64  `json:"amount_fen"`
	OldestSeconds int64  `json:"oldest_seconds"`
	Oldest        string `json:"oldest,omitempty"`
	// Unfinished counts settlements still on their way to an end: accepted
	// or being sent, in doubt, being reversed or refunded (deferred bills
	// are the backlog, counted apart).
	Unfinished int `json:"unfinished"`
}

// ReconcileStatus summarises the last reconciliation.
type ReconcileStatus struct {
	Date     string    `json:"date"`
	At       time.Time `json:"at"`
	Balanced bool      `json:"balanced"`
	Diffs    int       `json:"diffs"`
}
