package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// CardsBody is the answer of GET /v1/cards.
type CardsBody struct {
	Readers any `json:"readers"`
}

func (s *Server) listCards(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Desk == nil {
		writeJSON(w, http.StatusOK, CardsBody{Readers: []any{}})
		return
	}
	writeJSON(w, http.StatusOK, CardsBody{Readers: s.cfg.Desk.Readers()})
}

// streamEvents serves the event bus as Server-Sent Events: one "event:"
// per type, the JSON event as data, its sequence number as id, and a
// comment every 15 seconds so proxies and the HIS notice a dead stream.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Events == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "events are not enabled on this agent")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, codeInternal, "streaming unsupported")
		return
	}
	sub := s.cfg.Events.Subscribe(64)
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": medterm events\n\n")
	flusher.Flush()
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-heartbeat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
		case ev, ok := <-sub.C:
			if !ok {
				return // cut off for falling behind: the client reconnects
			}
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
		}
		flusher.Flush()
	}
}
