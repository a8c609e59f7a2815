package transport

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
)

// DefaultTokenTTL is the life of a token the gateway issues.
const DefaultTokenTTL = 2 * time.Hour

// OAuthGateway is the gateway's side of the oauth_sm token: it issues
// tokens for the password grant and checks Bearer tokens. Tokens live in
// memory, as a gateway's cache does: a restart forgets them, and clients
// fetch new ones.
type OAuthGateway struct {
	ClientID, ClientSecret string
	// Users maps usernames to passwords.
	Users map[string]string
	TTL   time.Duration
	Clock clock.Clock

	mu     sync.Mutex
	tokens map[string]issued
}

type issued struct {
	user    string
	expires time.Time
}

func (g *OAuthGateway) now() time.Time {
	if g.Clock == nil {
		return time.Now()
	}
	return g.Clock.Now()
}

// ServeToken is the token endpoint.
func (g *OAuthGateway) ServeToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(g.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(g.ClientSecret)) != 1 {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "password" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	user, pass := r.PostForm.Get("username"), r.PostForm.Get("password")
	want, known := g.Users[user]
	if !known || subtle.ConstantTimeCompare([]byte(pass), []byte(want)) != 1 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	ttl := g.TTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	tok := hex.EncodeToString(b[:])
	g.mu.Lock()
	if g.tokens == nil {
		g.tokens = map[string]issued{}
	}
	now := g.now()
	for t, is := range g.tokens {
		if !now.Before(is.expires) {
			delete(g.tokens, t)
		}
	}
	g.tokens[tok] = issued{user: user, expires: now.Add(ttl)}
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int64(ttl / time.Second)})
}

// Verify checks a request's Bearer token and returns its user.
func (g *OAuthGateway) Verify(h http.Header) (string, error) {
	auth := h.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return "", RefuseMissingHeaders
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	is, known := g.tokens[tok]
	if !known || !g.now().Before(is.expires) {
		return "", RefuseToken
	}
	return is.user, nil
}

// Forget drops every token issued, as a gateway restart does.
func (g *OAuthGateway) Forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens = nil
}

func writeOAuthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}
