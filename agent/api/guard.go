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
	origins []string // allowed browser origins, and the agent's own (the kiosk page)
	token   []byte
	creds   *credentials
	public  *http.ServeMux // routes that need no credential
	kiosk   *http.ServeMux // routes a kiosk session may call
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
			// Chrome's Local Network Access (Private Network Access) asks
			// before a page on the intranet may call loopback; the origin
			// is on our allow list, so say yes.
			if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
				h.Set("Access-Control-Allow-Private-Network", "true")
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if _, pattern := g.public.Handler(r); pattern != "" {
		g.next.ServeHTTP(w, r)
		return
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
//
// Besides the HIS's token: a kiosk session, for the kiosk's routes only,
// and, for the event stream alone, a ticket in the URL (EventSource sends
// no headers).
func (g *guard) authorized(r *http.Request) bool {
	if t := r.URL.Query().Get("ticket"); t != "" && r.Method == http.MethodGet && r.URL.Path == "/v1/events" {
		return g.creds.useTicket(t)
	}
	tok, ok := bearer(r)
	if !ok {
		return false
	}
	if len(g.token) > 0 && subtle.ConstantTimeCompare([]byte(tok), g.token) == 1 {
		return true
	}
	if _, pattern := g.kiosk.Handler(r); pattern != "" && g.creds.kioskSession(tok) {
		return true
	}
	return false
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

// ownOrigins are the origins of the agent's own pages (the kiosk page),
// one per Host it answers under.
func ownOrigins(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, "http://"+h)
	}
	return out
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	// img-src blob: for the receipt's QR code, which the kiosk page fetches
	// with its credential and shows from memory.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}
