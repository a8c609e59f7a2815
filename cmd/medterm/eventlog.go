package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

// eventSink is the Windows event log as the daemon writes it
// (golang.org/x/sys/windows/svc/eventlog's Log): one message per event,
// with an event id.
type eventSink interface {
	Info(eid uint32, msg string) error
	Warning(eid uint32, msg string) error
	Error(eid uint32, msg string) error
}

// Event ids of the service's events, as Event Viewer filters them.
const (
	eventInfo    = 1
	eventWarning = 2
	eventError   = 3
)

// eventHandler writes records at or above its level to the event log,
// each as one line of text (message, then key=value). The event log is
// what Windows IT reads first, so it takes warnings and errors, and the
// few records marked as service events (start, stop); the rotating file
// has everything.
type eventHandler struct {
	sink  eventSink
	level slog.Leveler
	attrs []slog.Attr
	group string
	mu    *sync.Mutex
}

// serviceEvent marks an info record that goes to the event log too.
const serviceEvent = "service_event"

func newEventHandler(sink eventSink, level slog.Leveler) *eventHandler {
	return &eventHandler{sink: sink, level: level, mu: &sync.Mutex{}}
}

func (h *eventHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *eventHandler) Handle(_ context.Context, r slog.Record) error {
	marked := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == serviceEvent {
			marked = true
			return false
		}
		return true
	})
	if r.Level < slog.LevelWarn && !marked {
		return nil
	}
	var buf bytes.Buffer
	text := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == serviceEvent) {
			return slog.Attr{} // the event log has its own time and level
		}
		return a
	}})
	var th slog.Handler = text
	if len(h.attrs) > 0 {
		th = th.WithAttrs(h.attrs)
	}
	if h.group != "" {
		th = th.WithGroup(h.group)
	}
	if err := th.Handle(context.Background(), r); err != nil {
		return err
	}
	msg := strings.TrimSuffix(buf.String(), "\n")
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Level >= slog.LevelError:
		return h.sink.Error(eventError, msg)
	case r.Level >= slog.LevelWarn:
		return h.sink.Warning(eventWarning, msg)
	default:
		return h.sink.Info(eventInfo, msg)
	}
}

func (h *eventHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}
