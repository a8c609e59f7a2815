package faultproxy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/faultproxy"
)

func TestCloseIsIdempotentAndEndsTheProxy(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	if err := p.Refuse(); err != nil { // Close must cope with no listener
		t.Fatal(err)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := p.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}

	if _, err := net.Dial("tcp", p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed proxy: %v, want ECONNREFUSED", err)
	}
	for name, fault := range map[string]func() error{
		"Reset": p.Reset, "BlackHole": p.BlackHole, "Refuse": p.Refuse, "Heal": p.Heal,
	} {
		if err := fault(); !errors.Is(err, faultproxy.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
		// Heal must not have reopened the port.
		if c, err := net.Dial("tcp", p.Addr()); err == nil {
			c.Close()
			t.Fatalf("%s after Close reopened the port", name)
		}
	}
	p.Latency(time.Second) // harmless after Close
	p.DropResponses(1)
}

// TestCloseEndsEveryConnectionAndGoroutine closes the proxy with
// connections in every state it has: idle between kept-alive requests, a
// request held by latency on a clock that never moves, both then
// black-holed, and one black-holed from the start. The goroutine check in newProxy's cleanup then proves
// nothing of the proxy is left.
func TestCloseEndsEveryConnectionAndGoroutine(t *testing.T) {
	tg := newTarget(t, false)
	fake := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	p := newProxy(t, tg.addr(), faultproxy.WithClock(fake))

	mustPost(t, newClient(t), p.URL(), "leaves an idle connection")

	p.Latency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	held := postAsync(ctx, newClient(t), p.URL(), "held")
	recv(t, fake.WaiterAdded(), "request held on the clock")

	// Last, so that no Heal lets it pass: the two above go silent too.
	if err := p.BlackHole(); err != nil {
		t.Fatal(err)
	}
	sunk, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer sunk.Close()
	if _, err := io.WriteString(sunk, "into the black hole"); err != nil {
		t.Fatal(err)
	}

	if len(proxyGoroutines()) == 0 {
		t.Fatal("no proxy goroutines seen while connections are open; the leak check would prove nothing")
	}
	// On one P, goroutines that Close merely woke have not run yet when
	// it returns, so only a Close that waits for them passes.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if stacks := proxyGoroutines(); len(stacks) > 0 {
		t.Fatalf("%d proxy goroutines left right after Close", len(stacks))
	}

	if r := recv(t, held, "held request's result"); !isBroken(r.err) {
		t.Errorf("held request after Close: %q, %v; want its connection closed", r.body, r.err)
	}
	_ = sunk.SetReadDeadline(time.Now().Add(patience))
	if _, err := sunk.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("black-holed connection after Close: %v, want it closed", err)
	}
}
