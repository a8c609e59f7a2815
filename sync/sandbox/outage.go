package sandbox

import (
	"net/http"
	"strings"
)

// SetOutage takes the platform off the network (down) or puts it back.
// While down, every transaction request loses its connection with no
// answer at all, as when the gateway or the line to it fails: a client
// sees a network error, never an HTTP status. The admin endpoints keep
// answering, so a test or a demo can end the outage. The switch is not
// stored: a restarted platform is up.
func (p *Platform) SetOutage(down bool) {
	if p.outage.Swap(down) != down {
		p.log.Warn("outage switched", "down", down)
	}
}

// Outage reports whether the platform is down.
func (p *Platform) Outage() bool { return p.outage.Load() }

func (p *Platform) outageSwitch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.outage.Load() && !strings.HasPrefix(r.URL.Path, "/admin/") {
			p.log.Info("outage: connection dropped", "path", r.URL.Path)
			drop(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// drop closes the request's connection without writing a byte.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot hand its connection over; aborting the handler
		// resets the stream, which is as unanswered.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

type outageState struct {
	Down bool `json:"down"`
}

func (p *Platform) serveOutage(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var req struct {
			Down *bool `json:"down"`
		}
		if err := decodeAdmin(r, &req); err != nil || req.Down == nil {
			http.Error(w, `want {"down": true} or {"down": false}`, http.StatusBadRequest)
			return
		}
		p.SetOutage(*req.Down)
	}
	writeJSON(w, http.StatusOK, outageState{Down: p.Outage()})
}
