package api

import (
	"crypto/subtle"
	"net"
	"net/http"
	"slices"
	"strings"
)

// guard refuses, before routing, every request that a web page could have
// forged: a Host that is not ours (DNS rebinding), an Origin that is not
// on the allow list (cross-site requests), and a missing or wrong bearer
// token. A local service is not safe by being local.
type guard struct {
	hosts   []string // allowed Host header values, host:port
	origins []string // allowed browser origins
	token   []byte
	next    http.Handler
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	if !g.hostAllowed(r.Host) {
		writeError(w, http.StatusForbidden, codeForbiddenHost, "the Host header is not this agent's address")
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !slices.Contains(g.origins, origin) {
			writeError(w, http.StatusForbidden, codeForbiddenOrigin, "the Origin is not on the agent's allow list")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if !g.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="medterm"`)
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "a valid bearer token is required (see the token file in the agent's configuration)")
		return
	}
	g.next.ServeHTTP(w, r)
}

func (g *guard) hostAllowed(host string) bool {
	return slices.Contains(g.hosts, strings.ToLower(host))
}

// authorized checks the bearer token. The scheme name is case-insensitive
// (RFC 7235 section 2.1): HIS HTTP libraries send "bearer" as often as
// "Bearer".
func (g *guard) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(g.token) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), g.token) == 1
}

// allowedHosts lists the Host values under which the API answers: the
// listening address itself and localhost on the same port.
func allowedHosts(addr string, extra []string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return extra
	}
	hosts := []string{net.JoinHostPort(host, port), net.JoinHostPort("localhost", port), net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
	for _, h := range extra {
		hosts = append(hosts, strings.ToLower(h))
	}
	return hosts
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}
