package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Short-lived credentials for browsers, besides the HIS's token:
//   - a kiosk session, handed to the kiosk page by the agent itself (only
//     to a peer on this machine's loopback), good for the kiosk's routes
//     alone: the page never holds the HIS's token;
//   - an event ticket, for EventSource, which cannot send an
//     Authorization header: single use, valid for seconds, bought with a
//     token.
const (
	kioskSessionTTL = 15 * time.Minute
	ticketTTL       = 30 * time.Second
	maxCredentials  = 256 // a kiosk renews a session every few minutes
)

// kioskRoutes are what a kiosk session may call: find the patient's held
// bills, pay one, confirm a part, read the receipt, sign up for
// password-free payment, watch events and the platform's status.
var kioskRoutes = []string{
	"GET /v1/bills", "POST /v1/bills/{id}/settle", "GET /v1/settlements/{id}", "GET /v1/settlements/{id}/receipt",
	"POST /v1/settlements/{id}/confirm", "POST /v1/settlements/{id}/print", "GET /v1/scans/{id}", "GET /v1/status", "POST /v1/events/ticket", "GET /v1/events",
	"POST /v1/agreements/find", "POST /v1/agreements", "POST /v1/agreements/limits", "POST /v1/agreements/cancel",
}

type credentials struct {
	mu      sync.Mutex
	now     func() time.Time
	kiosk   map[string]time.Time // session token → expiry
	tickets map[string]time.Time // ticket → expiry
}

func newCredentials(now func() time.Time) *credentials {
	return &credentials{now: now, kiosk: map[string]time.Time{}, tickets: map[string]time.Time{}}
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newKioskSession issues a kiosk session token.
func (c *credentials) newKioskSession() (string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune()
	tok, exp := "k."+randomToken(), c.now().Add(kioskSessionTTL)
	c.kiosk[tok] = exp
	return tok, exp
}

func (c *credentials) kioskSession(tok string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.kiosk[tok]
	return ok && c.now().Before(exp)
}

// newTicket issues an event ticket.
func (c *credentials) newTicket() (string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune()
	tok, exp := "t."+randomToken(), c.now().Add(ticketTTL)
	c.tickets[tok] = exp
	return tok, exp
}

// useTicket spends a ticket: a second use, or a late one, is refused.
func (c *credentials) useTicket(tok string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.tickets[tok]
	delete(c.tickets, tok)
	return ok && c.now().Before(exp)
}

// prune drops expired credentials, and the oldest past maxCredentials.
func (c *credentials) prune() {
	now := c.now()
	for k, exp := range c.kiosk {
		if !now.Before(exp) || len(c.kiosk) > maxCredentials {
			delete(c.kiosk, k)
		}
	}
	for k, exp := range c.tickets {
		if !now.Before(exp) || len(c.tickets) > maxCredentials {
			delete(c.tickets, k)
		}
	}
}

// bearer is the token of an Authorization header, if any.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}
