package loopback

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHostAcceptsOnlyLoopbackNames(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":          true,
		"LOCALHOST:8080":     true,
		"127.0.0.1":          true,
		"127.1.2.3:9000":     true,
		"[::1]:443":          true,
		"::1":                true,
		"10.0.0.5:80":        false,
		"evil.example":       false,
		"localhost.evil.com": false,
		"":                   false,
	} {
		if got := Host(host); got != want {
			t.Errorf("Host(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestAdminOnlyRefusesAPeerElsewhere(t *testing.T) {
	h := AdminOnly(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for peer, want := range map[string]int{
		"127.0.0.1:5000":   http.StatusNoContent,
		"[::1]:5000":       http.StatusNoContent,
		"192.168.1.9:5000": http.StatusForbidden,
		"garbage":          http.StatusForbidden,
	} {
		r := httptest.NewRequest(http.MethodPost, "/admin/outage", nil)
		r.RemoteAddr = peer
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != want {
			t.Errorf("peer %s: status %d, want %d", peer, w.Code, want)
		}
	}
}
