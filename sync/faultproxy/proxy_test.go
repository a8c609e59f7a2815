package faultproxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/faultproxy"
)

func TestNewAcceptsOnlyLoopbackTargets(t *testing.T) {
	cases := []struct {
		target string
		want   error // nil: accepted
	}{
		{"127.0.0.1:8080", nil},
		{"127.1.2.3:8080", nil},
		{"[::1]:8080", nil},
		{"10.0.0.1:8080", faultproxy.ErrNotLoopback},
		{"[2001:db8::1]:443", faultproxy.ErrNotLoopback},
		{"0.0.0.0:8080", faultproxy.ErrNotLoopback},
		{"localhost:8080", faultproxy.ErrNotLoopback},
		{"platform.example:443", faultproxy.ErrNotLoopback},
		{"127.0.0.1", faultproxy.ErrTarget},
		{"127.0.0.1:0", faultproxy.ErrTarget},
		{"127.0.0.1:http", faultproxy.ErrTarget},
		{"http://127.0.0.1:8080", faultproxy.ErrTarget},
		{"", faultproxy.ErrTarget},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			if tc.want == nil {
				newProxy(t, tc.target)
				return
			}
			p, err := faultproxy.New(tc.target)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New: error %v, want %v", err, tc.want)
			}
			if p != nil {
				t.Fatal("New returned a proxy with its error")
			}
		})
	}
}

func TestProxyListensOnLoopbackAndNamesItsURL(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Errorf("Addr %q is not on 127.0.0.1", p.Addr())
	}
	if p.URL() != "http://"+p.Addr() {
		t.Errorf("URL %q, want http:// + %q", p.URL(), p.Addr())
	}
}

func TestPassThroughCarriesKeepAliveExchangesIntact(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	c := newClient(t)

	big := strings.Repeat("0123456789", 100_000) // many chunks each way
	for _, body := range []string{"bill 1", big, "bill 3"} {
		mustPost(t, c, p.URL(), body)
	}

	want := faultproxy.Stats{Connections: 1, Requests: 3}
	if got := p.Stats(); got != want {
		t.Errorf("Stats %+v, want %+v", got, want)
	}
}

func TestLatencyHoldsEachDirectionUntilItIsDue(t *testing.T) {
	tg := newTarget(t, false)
	fake := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	p := newProxy(t, tg.addr(), faultproxy.WithClock(fake))
	c := newClient(t)

	// Latency applies to a connection that is already open.
	mustPost(t, c, p.URL(), "before")
	recv(t, tg.handled, "first request")
	p.Latency(time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res := postAsync(ctx, c, p.URL(), "delayed")

	recv(t, fake.WaiterAdded(), "request held on the clock")
	select {
	case b := <-tg.handled:
		t.Fatalf("target handled %q before the request was due", b)
	default:
	}
	fake.Advance(time.Second)
	if got := recv(t, tg.handled, "delayed request at the target"); got != "delayed" {
		t.Fatalf("target handled %q, want %q", got, "delayed")
	}

	recv(t, fake.WaiterAdded(), "answer held on the clock")
	select {
	case r := <-res:
		t.Fatalf("client got %+v before the answer was due", r)
	default:
	}
	fake.Advance(time.Second)
	r := recv(t, res, "delayed answer")
	if r.err != nil || r.body != "answer to delayed" {
		t.Fatalf("delayed post: %q, %v", r.body, r.err)
	}
	if got := p.Stats().Connections; got != 1 {
		t.Errorf("%d connections, want the one kept alive", got)
	}
}

func TestLatencyAddsAtLeastTwiceDToAnExchange(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	c := newClient(t)
	const d = 40 * time.Millisecond
	p.Latency(d)

	start := time.Now()
	mustPost(t, c, p.URL(), "slow")
	if took := time.Since(start); took < 2*d {
		t.Errorf("exchange took %v, want at least %v (d each way)", took, 2*d)
	}
}

func TestLatencyCarriesLargeExchangesIntact(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	c := newClient(t)
	p.Latency(5 * time.Millisecond)

	// More chunks than the proxy queues, so flow control pushes back.
	mustPost(t, c, p.URL(), strings.Repeat("0123456789", 400_000))
}

// TestPassThroughCarriesHalfCloseBothWays uses a plain TCP target that
// answers only once the client has finished sending: the proxy must pass
// the client's FIN on, and then the target's.
func TestPassThroughCarriesHalfCloseBothWays(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(patience))
		got, err := io.ReadAll(c) // until the client's FIN
		if err == nil {
			_, err = fmt.Fprintf(c, "got %d bytes", len(got))
		}
		served <- err
	}()
	t.Cleanup(func() { ln.Close() })
	p := newProxy(t, ln.Addr().String())

	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(patience))
	if _, err := io.WriteString(conn, strings.Repeat("z", 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(conn) // until the target's FIN
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	if string(answer) != "got 100000 bytes" {
		t.Fatalf("answer %q", answer)
	}
	if err := recv(t, served, "target finished"); err != nil {
		t.Fatalf("target: %v", err)
	}
}
