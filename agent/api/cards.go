package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/events"
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

// getCard answers the card now in a reader for registering the patient:
// masked by default; in full with ?reveal=true; as the iReadCardBas
// string HIS programs already parse with ?format=ireadcardbas (always in
// full: it is for a program). Only the HIS's token may ask, never the
// kiosk page's.
func (s *Server) getCard(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Desk == nil {
		writeErr(w, refusedNoReader)
		return
	}
	reader := r.PathValue("reader")
	if reader == "desk" {
		reader = ""
	}
	c, err := s.cfg.Desk.Card(reader)
	if err != nil && !errors.Is(err, agent.ErrCardExpired) {
		writeErr(w, agent.CardRefusal(err))
		return
	}
	q := r.URL.Query()
	switch {
	case q.Get("format") == "ireadcardbas":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(c.ReadCardBas + "\n"))
	case q.Get("reveal") == "true":
		writeJSON(w, http.StatusOK, c)
	default:
		writeJSON(w, http.StatusOK, c.Masked())
	}
}

// streamEvents serves the event bus as Server-Sent Events: one "event:"
// per type, the JSON event as data, its seq as id, and a comment every 15
// seconds so proxies and the HIS notice a dead stream.
//
// A client that comes back with the last id it saw is first replayed what
// it missed, then continues live; if some of it is no longer buffered, an
// events.lost event comes first so that it resyncs. A client that falls a
// whole queue behind has its stream ended (never events skipped): it
// reconnects with Last-Event-ID and is replayed from the buffer.
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
	after, resume, err := lastEventID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalid, err.Error())
		return
	}
	var sub *events.Subscription
	if resume {
		sub = s.cfg.Events.Resume(after, 0)
	} else {
		sub = s.cfg.Events.Subscribe(0)
	}
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": medterm events, epoch %s\n\n", s.cfg.Events.Epoch())
	for _, ev := range sub.Replay {
		if writeEvent(w, ev) != nil {
			return
		}
	}
	flusher.Flush()
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-heartbeat.C:
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		case ev, ok := <-sub.C:
			if !ok {
				if sub.Overflowed() {
					s.log.Warn("event stream cut off: the client fell behind")
					fmt.Fprint(w, ": fell behind; reconnect with Last-Event-ID to be replayed\n\n")
					flusher.Flush()
				}
				return
			}
			err = writeEvent(w, ev)
		}
		if err != nil {
			return // the client has gone; its next connection resumes
		}
		flusher.Flush()
	}
}

// writeEvent writes one event in the text/event-stream format. It fails
// only when the client has gone.
func writeEvent(w io.Writer, ev events.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		// A bug in a publisher, not the client's: it still gets the event,
		// so that it sees the seq go by (neither a silent gap nor a stream
		// that stops at the same event on every reconnect).
		ev.Data = map[string]string{"error": "event data could not be encoded"}
		data, _ = json.Marshal(ev)
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
	return err
}

// lastEventID is where a reconnecting client left off: the Last-Event-ID
// header, which browsers send on their own reconnects, else the
// last_event_id parameter, for a page that opens a new EventSource (which
// cannot set headers). The header wins because an automatic reconnect
// still carries the URL, and so the id, of the first connection.
func lastEventID(r *http.Request) (after uint64, resume bool, err error) {
	v, name := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if v == "" {
		v, name = r.URL.Query().Get("last_event_id"), "last_event_id"
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s must be the id of an event (a decimal number), as the stream sent it", name)
	}
	return n, true, nil
}

// refusedNoReader answers a card route on a terminal without readers.
var refusedNoReader = agent.CardRefusal(agent.ErrNoDeskReader)
