package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
)

// browserRig is an API whose short-lived credentials run on a clock the
// test moves.
type browserRig struct {
	srv *api.Server
	now atomic.Int64 // seconds past agenttest.Epoch
}

func newBrowserRig(t *testing.T) *browserRig {
	t.Helper()
	r := &browserRig{}
	c := clock.NewFake(agenttest.Epoch)
	svc := agent.NewService(agent.ServiceConfig{Journal: agenttest.NewJournal(c), Insurance: agenttest.NewInsurance(), Clock: c})
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(token), Service: svc, Events: events.NewBus(nil),
		Origins: []string{"https://his.hospital.local"}, TerminalID: "KIOSK01",
		Now: func() time.Time { return agenttest.Epoch.Add(time.Duration(r.now.Load()) * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	return r
}

// do sends a request from peer (host:port) with the headers given.
func (r *browserRig) do(method, path, peer string, hdr map[string]string) (*http.Response, []byte) {
	req := httptest.NewRequest(method, "http://"+r.srv.Addr()+path, nil)
	req.Host = r.srv.Addr()
	req.RemoteAddr = peer
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, req)
	resp := rec.Result()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// loopbackPeer is the peer address of requests served straight to the
// handler (httptest): nothing listens on it or dials it.
const loopbackPeer = "127.0.0.1:40000"

func (r *browserRig) kioskToken(t *testing.T) string {
	t.Helper()
	resp, data := r.do("POST", "/v1/kiosk/session", loopbackPeer, nil)
	var s api.KioskSession
	if resp.StatusCode != 201 || json.Unmarshal(data, &s) != nil || s.Token == "" || s.TerminalID != "KIOSK01" || s.IdleSeconds != 60 {
		t.Fatalf("kiosk session: %d %s", resp.StatusCode, data)
	}
	return s.Token
}

func TestTheKioskPageAndItsSessionAreForThisMachinesBrowserOnly(t *testing.T) {
	r := newBrowserRig(t)
	if resp, data := r.do("GET", "/kiosk", loopbackPeer, nil); resp.StatusCode != 200 || !strings.Contains(string(data), "kiosk.js") {
		t.Fatalf("GET /kiosk: %d", resp.StatusCode)
	}
	if resp, _ := r.do("GET", "/kiosk/../openapi.json", loopbackPeer, nil); resp.StatusCode == 200 {
		t.Fatal("the kiosk's file route served a file outside the page")
	}
	if resp, _ := r.do("POST", "/v1/kiosk/session", "192.168.1.20:5000", nil); resp.StatusCode != 403 {
		t.Fatalf("a session for a peer on the LAN: %d, want 403", resp.StatusCode)
	}
	if resp, _ := r.do("POST", "/v1/kiosk/session", loopbackPeer, map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != 403 {
		t.Fatalf("a session for a foreign page: %d, want 403", resp.StatusCode)
	}
	own := "http://" + r.srv.Addr()
	if resp, _ := r.do("POST", "/v1/kiosk/session", loopbackPeer, map[string]string{"Origin": own}); resp.StatusCode != 201 {
		t.Fatalf("a session for the agent's own page: %d, want 201", resp.StatusCode)
	}

	kiosk := map[string]string{"Authorization": "Bearer " + r.kioskToken(t)}
	if resp, _ := r.do("GET", "/v1/bills", loopbackPeer, kiosk); resp.StatusCode != 200 {
		t.Fatalf("held bills with a kiosk session: %d", resp.StatusCode)
	}
	for _, route := range [][2]string{{"GET", "/v1/settlements"}, {"POST", "/v1/bills"}, {"POST", "/v1/reconcile"}, {"GET", "/metrics"}} {
		if resp, _ := r.do(route[0], route[1], loopbackPeer, kiosk); resp.StatusCode != 401 {
			t.Errorf("%s %s with a kiosk session: %d, want 401", route[0], route[1], resp.StatusCode)
		}
	}
	r.now.Store(16 * 60)
	if resp, _ := r.do("GET", "/v1/bills", loopbackPeer, kiosk); resp.StatusCode != 401 {
		t.Fatalf("a kiosk session 16 minutes old: %d, want 401", resp.StatusCode)
	}
}

func TestAnEventTicketOpensTheStreamOnceAndOnlyWhileFresh(t *testing.T) {
	r := newBrowserRig(t)
	his := map[string]string{"Authorization": "Bearer " + token}
	ticket := func() string {
		resp, data := r.do("POST", "/v1/events/ticket", loopbackPeer, his)
		var tk api.EventTicket
		if resp.StatusCode != 201 || json.Unmarshal(data, &tk) != nil || tk.Ticket == "" {
			t.Fatalf("ticket: %d %s", resp.StatusCode, data)
		}
		return tk.Ticket
	}
	if resp, _ := r.do("POST", "/v1/events/ticket", loopbackPeer, nil); resp.StatusCode != 401 {
		t.Fatalf("a ticket without a token: %d", resp.StatusCode)
	}
	// A fresh ticket opens the stream: the kiosk page's browser test does
	// (agent/stacktest). Here, every ticket that must not.
	tk := ticket()
	if resp, _ := r.do("GET", "/v1/events?ticket=nonsense", loopbackPeer, nil); resp.StatusCode != 401 {
		t.Fatalf("a made-up ticket: %d", resp.StatusCode)
	}
	r.now.Store(31)
	if resp, _ := r.do("GET", "/v1/events?ticket="+tk, loopbackPeer, nil); resp.StatusCode != 401 {
		t.Fatalf("a ticket 31 s old: %d, want 401", resp.StatusCode)
	}
	if resp, _ := r.do("GET", "/v1/settlements?ticket="+ticket(), loopbackPeer, nil); resp.StatusCode != 401 {
		t.Fatalf("a ticket on another route: %d, want 401", resp.StatusCode)
	}
}

func TestPreflightFromAnAllowedIntranetPageIsGrantedLocalNetworkAccess(t *testing.T) {
	r := newBrowserRig(t)
	resp, _ := r.do("OPTIONS", "/v1/settlements", loopbackPeer, map[string]string{
		"Origin": "https://his.hospital.local", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Private-Network": "true"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Fatalf("preflight: %d, Allow-Private-Network %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Private-Network"))
	}
	resp, _ = r.do("OPTIONS", "/v1/settlements", loopbackPeer, map[string]string{
		"Origin": "https://evil.example", "Access-Control-Request-Private-Network": "true"})
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Private-Network") != "" {
		t.Fatalf("preflight from a foreign page: %d", resp.StatusCode)
	}
}

func TestLivenessNeedsNoTokenAndSaysNothingElse(t *testing.T) {
	r := newBrowserRig(t)
	resp, data := r.do("GET", "/v1/livez", "192.0.2.9:1", nil)
	if resp.StatusCode != 200 || string(data) != "ok\n" {
		t.Fatalf("livez: %d %q", resp.StatusCode, data)
	}
	if resp, _ := r.do("GET", "/v1/health", loopbackPeer, nil); resp.StatusCode != 401 {
		t.Fatalf("health, which names the version, without a token: %d", resp.StatusCode)
	}
}
