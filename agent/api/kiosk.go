package api

import (
	"embed"
	"mime"
	"net"
	"net/http"
	"path"
	"time"
)

// The kiosk page: static files served by the agent to the browser on the
// self-service machine, which asks the agent for its own short-lived
// credential (POST /v1/kiosk/session) and then calls the kiosk's routes.

//go:embed kiosk
var kioskFiles embed.FS

func (s *Server) kioskPage(w http.ResponseWriter, r *http.Request) {
	s.serveKioskFile(w, "index.html")
}

func (s *Server) kioskAsset(w http.ResponseWriter, r *http.Request) {
	s.serveKioskFile(w, r.PathValue("file"))
}

func (s *Server) serveKioskFile(w http.ResponseWriter, name string) {
	data, err := kioskFiles.ReadFile("kiosk/" + path.Clean("/" + name)[1:])
	if err != nil {
		writeError(w, http.StatusNotFound, codeNotFound, "no such file of the kiosk page")
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	_, _ = w.Write(data)
}

// KioskSession is the answer of POST /v1/kiosk/session.
type KioskSession struct {
	Token       string    `json:"token"`
	ExpiresAt   time.Time `json:"expires_at"`
	TerminalID  string    `json:"terminal_id"`
	IdleSeconds int       `json:"idle_seconds"`
}

// kioskSession hands the kiosk page its credential. Only a peer on this
// machine's loopback gets one: the kiosk's own browser. The guard has
// already refused a foreign Host or Origin.
func (s *Server) kioskSession(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		writeError(w, http.StatusForbidden, codeForbiddenHost, "a kiosk session is given to this machine's own browser only")
		return
	}
	tok, exp := s.creds.newKioskSession()
	writeJSON(w, http.StatusCreated, KioskSession{Token: tok, ExpiresAt: exp, TerminalID: s.cfg.TerminalID, IdleSeconds: int(s.cfg.KioskIdle / time.Second)})
}

// EventTicket is the answer of POST /v1/events/ticket.
type EventTicket struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// eventTicket buys a single-use ticket for GET /v1/events?ticket=…: a
// browser's EventSource cannot send the Authorization header.
func (s *Server) eventTicket(w http.ResponseWriter, r *http.Request) {
	t, exp := s.creds.newTicket()
	writeJSON(w, http.StatusCreated, EventTicket{Ticket: t, ExpiresAt: exp})
}

// livez says the agent's process answers, and nothing else: it needs no
// credential, so it tells a caller nothing about the terminal.
func (s *Server) livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
