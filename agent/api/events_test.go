package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
)

// eventsFixture is the API serving on a real loopback port with an event
// bus, its service publishing to the bus.
type eventsFixture struct {
	*fixture
	bus      *events.Bus
	platform *agenttest.Insurance
	client   *http.Client
}

func newEventsFixture(t *testing.T, o events.Options) *eventsFixture {
	t.Helper()
	c := clock.NewFake(agenttest.Epoch)
	j := agenttest.NewJournal(c)
	bus := events.New(o)
	p := agenttest.NewInsurance()
	pol := agent.DefaultOfflinePolicy()
	pol.Trust = append(pol.Trust, agent.TrustIDNumber) // goodBody's patient is identified by ID number
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: c, Events: bus, Offline: pol})
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(token), Service: svc, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	tr := &http.Transport{}
	t.Cleanup(func() {
		cancel() // ends every stream, then shuts down
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		tr.CloseIdleConnections()
	})
	return &eventsFixture{
		fixture: &fixture{srv: srv, journal: j, host: srv.Addr()},
		bus:     bus, platform: p, client: &http.Client{Transport: tr},
	}
}

// sse is one event as a client reads it off the wire.
type sse struct {
	id, typ string
	ev      events.Event
	raw     json.RawMessage // the event's data, undecoded
}

type stream struct {
	body io.ReadCloser
	r    *bufio.Reader
}

// connect opens GET /v1/events (plus query) with hdr. It returns once the
// agent has answered, which it does only after subscribing: an event
// published after connect returns is on this stream.
func (f *eventsFixture) connect(t *testing.T, query string, hdr map[string]string) *stream {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+f.host+"/v1/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /v1/events: %d %s", resp.StatusCode, data)
	}
	s := &stream{body: resp.Body, r: bufio.NewReader(resp.Body)}
	t.Cleanup(func() { s.body.Close() })
	return s
}

// next reads the next event, skipping comments; ok is false when the
// agent ended the stream.
func (s *stream) next(t *testing.T) (ev sse, ok bool) {
	t.Helper()
	// Only a failing test waits this long: an event that never comes.
	var stuck atomic.Bool
	watchdog := time.AfterFunc(10*time.Second, func() { stuck.Store(true); s.body.Close() })
	defer watchdog.Stop()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if stuck.Load() {
				t.Fatal("no event within 10 s")
			}
			if ev.typ != "" {
				t.Fatalf("stream ended inside an event (%v)", err)
			}
			return ev, false
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && ev.typ != "":
			if err := json.Unmarshal(ev.raw, &ev.ev); err != nil {
				t.Fatalf("event data %s: %v", ev.raw, err)
			}
			return ev, true
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.raw = json.RawMessage(strings.TrimPrefix(line, "data: "))
		}
	}
}

// expect reads events and checks that their ids are from..to, each once,
// in order, each id matching its seq.
func (s *stream) expect(t *testing.T, from, to uint64) {
	t.Helper()
	for want := from; want <= to; want++ {
		ev, ok := s.next(t)
		if !ok {
			t.Fatalf("stream ended before event %d", want)
		}
		if ev.id != strconv.FormatUint(want, 10) || ev.ev.Seq != want || ev.typ != ev.ev.Type {
			t.Fatalf("got event id %s (seq %d, %s); want %d", ev.id, ev.ev.Seq, ev.typ, want)
		}
	}
}

func (f *eventsFixture) publish(from, to int) {
	for i := from; i <= to; i++ {
		f.bus.Publish(events.SettlementState, map[string]int{"n": i})
	}
}

func TestAClientDroppedMidBurstIsReplayedEveryMissedEventOnceThenLive(t *testing.T) {
	// The queue holds the whole burst so that the client, not the agent,
	// decides where the first stream ends; being cut off has its own test.
	f := newEventsFixture(t, events.Options{Buffer: 4096, Queue: 2048})
	first := f.connect(t, "", nil)
	f.publish(1, 1000)
	const k = 300
	first.expect(t, 1, k)
	first.body.Close() // dropped in the middle of the burst
	f.publish(1001, 1500)

	again := f.connect(t, "", map[string]string{"Last-Event-ID": strconv.Itoa(k)})
	again.expect(t, k+1, 1500)
	f.publish(1501, 1510)
	again.expect(t, 1501, 1510)
}

func TestLastEventIDMayComeAsAParameterAndTheHeaderWins(t *testing.T) {
	f := newEventsFixture(t, events.Options{})
	f.publish(1, 10)
	cases := []struct {
		name  string
		query string
		hdr   map[string]string
		from  uint64
	}{
		{"parameter", "?last_event_id=4", nil, 5},
		{"header and a stale parameter", "?last_event_id=2", map[string]string{"Last-Event-ID": "7"}, 8},
		{"zero: everything still held", "?last_event_id=0", nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := f.connect(t, c.query, c.hdr)
			s.expect(t, c.from, 10)
			s.body.Close()
		})
	}
}

func TestANewClientGetsOnlyWhatHappensAfterItConnects(t *testing.T) {
	f := newEventsFixture(t, events.Options{})
	f.publish(1, 5)
	s := f.connect(t, "", nil)
	f.publish(6, 7)
	s.expect(t, 6, 7)
}

func TestAnIDTheAgentNoLongerCoversIsAnsweredWithEventsLostFirst(t *testing.T) {
	f := newEventsFixture(t, events.Options{Buffer: 8})
	f.publish(1, 20) // 13..20 are held
	cases := []struct {
		name   string
		lastID string
		gap    events.Gap
	}{
		{"older than the buffer", "5", events.Gap{Reason: events.LostDropped, LastEventID: 5, From: 6, To: 12}},
		{"zero after the first were dropped", "0", events.Gap{Reason: events.LostDropped, LastEventID: 0, From: 1, To: 12}},
		{"newer than any: an earlier run's", "999", events.Gap{Reason: events.LostUnknownID, LastEventID: 999, From: 1, To: 12}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := f.connect(t, "", map[string]string{"Last-Event-ID": c.lastID})
			lost, ok := s.next(t)
			if !ok || lost.typ != events.Lost || lost.id != "12" || lost.ev.Epoch != f.bus.Epoch() {
				t.Fatalf("first event %s id %s epoch %s; want %s id 12", lost.typ, lost.id, lost.ev.Epoch, events.Lost)
			}
			var data struct {
				Data events.Gap `json:"data"`
			}
			if err := json.Unmarshal(lost.raw, &data); err != nil || data.Data != c.gap {
				t.Fatalf("lost %s; want %+v", lost.raw, c.gap)
			}
			s.expect(t, 13, 20) // then everything held
			s.body.Close()
		})
	}
	// Resuming from the lost event's id is not told again.
	s := f.connect(t, "", map[string]string{"Last-Event-ID": "12"})
	s.expect(t, 13, 20)
}

func TestAnUnreadableLastEventIDIsRefused(t *testing.T) {
	f := newEventsFixture(t, events.Options{})
	for _, hdr := range []map[string]string{{"Last-Event-ID": "abc"}, {"Last-Event-ID": "-1"}} {
		resp, eb := f.do(t, "GET", "/v1/events", "", hdr)
		if resp.StatusCode != http.StatusBadRequest || eb.Error.Code != "INVALID_REQUEST" || !strings.Contains(eb.Error.Message, "Last-Event-ID") {
			t.Errorf("%v: %d %+v", hdr, resp.StatusCode, eb)
		}
	}
	resp, eb := f.do(t, "GET", "/v1/events?last_event_id=x", "", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(eb.Error.Message, "last_event_id") {
		t.Errorf("?last_event_id=x: %d %+v", resp.StatusCode, eb)
	}
}

// stalledWriter is a client that stops reading: its first Flush blocks
// until released.
type stalledWriter struct {
	mu      sync.Mutex
	header  http.Header
	buf     bytes.Buffer
	once    sync.Once
	stalled chan struct{} // closed when the handler is stuck writing
	release chan struct{}
}

func (w *stalledWriter) Header() http.Header { return w.header }
func (w *stalledWriter) WriteHeader(int)     {}
func (w *stalledWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
func (w *stalledWriter) Flush() {
	w.once.Do(func() {
		close(w.stalled)
		<-w.release
	})
}

func TestASlowClientIsCutOffNotSkippedAndResumesWhereItStopped(t *testing.T) {
	const queue = 4
	f := newEventsFixture(t, events.Options{Queue: queue})
	w := &stalledWriter{header: http.Header{}, stalled: make(chan struct{}), release: make(chan struct{})}
	req := httptest.NewRequest("GET", "http://"+f.host+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	served := make(chan struct{})
	go func() {
		defer close(served)
		f.srv.Handler().ServeHTTP(w, req)
	}()
	<-w.stalled           // subscribed, and not reading
	f.publish(1, queue+3) // the queue fills; the next one cuts it off
	close(w.release)      // the client reads again...
	select {              // ...and finds its stream ended
	case <-served:
	case <-time.After(10 * time.Second): // only a failure waits this long
		t.Fatal("the stream of a client that fell behind was not ended")
	}
	got := w.buf.String()
	for i := 1; i <= queue; i++ {
		if !strings.Contains(got, fmt.Sprintf("id: %d\n", i)) {
			t.Fatalf("event %d, queued before the cut-off, not delivered:\n%s", i, got)
		}
	}
	if strings.Contains(got, fmt.Sprintf("id: %d\n", queue+1)) || !strings.Contains(got, "reconnect with Last-Event-ID") {
		t.Fatalf("stream went on past the cut-off, or did not say why it ended:\n%s", got)
	}

	again := f.connect(t, "", map[string]string{"Last-Event-ID": strconv.Itoa(queue)})
	again.expect(t, queue+1, queue+3)
}

func TestRefundAndVoidAtTheWindowAreAnnouncedWithoutPersonalData(t *testing.T) {
	f := newEventsFixture(t, events.Options{})
	op := `{"operator":{"id":"W01","type":"1"},"reason":"patient left"}`
	cases := []struct {
		name, mode, action string
		want               []agent.State
	}{
		{"refund", "", "refund", []agent.State{agent.StateRefunding, agent.StateRefunded}},
		{"void", "force_offline", "void", []agent.State{agent.StateVoided}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := goodBody
			if c.mode != "" {
				body = strings.Replace(goodBody, `"operator"`, `"mode":"`+c.mode+`","operator"`, 1)
			}
			resp, eb := f.do(t, "POST", "/v1/settlements", body, map[string]string{"Idempotency-Key": fmt.Sprint("his-", i)})
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d %+v", resp.StatusCode, eb)
			}
			loc := resp.Header.Get("Location")
			id := strings.TrimPrefix(loc, "/v1/settlements/")
			s := f.connect(t, "", nil)
			if resp, eb := f.do(t, "POST", loc+"/"+c.action, op, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %+v", c.action, resp.StatusCode, eb)
			}
			for _, want := range c.want {
				ev, ok := s.next(t)
				if !ok {
					t.Fatalf("stream ended; want settlement %s %s", id, want)
				}
				var d struct {
					ID    string      `json:"id"`
					State agent.State `json:"state"`
				}
				raw, _ := json.Marshal(ev.ev.Data)
				if err := json.Unmarshal(raw, &d); err != nil || ev.typ != events.SettlementState || d.ID != id || d.State != want {
					t.Fatalf("event %s %s; want settlement.state %s %s", ev.typ, raw, id, want)
				}
				for _, personal := range []string{"11010519491231002X", "张三", "P0001"} {
					if bytes.Contains(ev.raw, []byte(personal)) {
						t.Fatalf("event carries personal data %q: %s", personal, ev.raw)
					}
				}
			}
			s.body.Close()
		})
	}
}
