package faultproxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/sync/faultproxy"
)

// clientWait is how long a client waits for an answer where none is meant
// to come: short, because the black hole never answers anyway.
const clientWait = 150 * time.Millisecond

func TestResetBreaksNewConnections(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, err := post(ctx, newClient(t), p.URL(), "bill")
	if !isBroken(err) || isTimeout(err) {
		t.Fatalf("post through a reset: %v, want a reset or EOF", err)
	}
	if n := tg.calls.Load(); n != 0 {
		t.Errorf("target handled %d requests, want none", n)
	}
	if got := p.Stats(); got.Connections != 1 || got.Requests != 0 {
		t.Errorf("Stats %+v, want the connection accepted and nothing forwarded", got)
	}
}

func TestResetSendsATCPReset(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", p.Addr())
	if err == nil {
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(patience))
		_, err = conn.Read(make([]byte, 1))
	}
	// The RST can arrive before the dial has finished checking its socket.
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("dial and read a reset connection: %v; want ECONNRESET", err)
	}
	if got := p.Stats().Connections; got != 1 {
		t.Errorf("%d connections, want the one accepted and reset", got)
	}
}

func TestBlackHoleTimesOutNewRequests(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	if err := p.BlackHole(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clientWait)
	defer cancel()
	_, err := post(ctx, newClient(t), p.URL(), "bill")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("post into the black hole: %v, want the client's deadline", err)
	}
	if n := tg.calls.Load(); n != 0 {
		t.Errorf("target handled %d requests, want none", n)
	}
	if got := p.Stats(); got.Connections != 1 || got.Requests != 0 {
		t.Errorf("Stats %+v, want the connection accepted and nothing forwarded", got)
	}
}

func TestBlackHoleSwallowsEverythingAndNeverAnswers(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	if err := p.BlackHole(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Far more than the socket buffers hold: the writes complete only if
	// the proxy keeps reading and throwing away.
	_ = conn.SetWriteDeadline(time.Now().Add(patience))
	block := make([]byte, 1<<20)
	for range 64 {
		if _, err := conn.Write(block); err != nil {
			t.Fatalf("write into the black hole: %v", err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(clientWait))
	n, err := conn.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from the black hole: %d bytes, %v; want silence until the deadline", n, err)
	}
}

// TestFaultsReachARequestInFlight holds a request in the target's handler,
// switches the fault on, then lets the handler answer.
func TestFaultsReachARequestInFlight(t *testing.T) {
	cases := []struct {
		name  string
		fault func(*faultproxy.Proxy) error
		// what the client gets and whether the target saw its
		// connection go
		wantTimeout bool
		targetGone  bool
	}{
		{"reset", (*faultproxy.Proxy).Reset, false, true},
		{"refuse", (*faultproxy.Proxy).Refuse, false, true},
		{"black hole", (*faultproxy.Proxy).BlackHole, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, true)
			p := newProxy(t, tg.addr())
			wait := patience
			if tc.wantTimeout {
				wait = clientWait
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			res := postAsync(ctx, newClient(t), p.URL(), "bill")
			recv(t, tg.entered, "request at the target")

			if err := tc.fault(p); err != nil {
				t.Fatal(err)
			}
			if tc.targetGone {
				recv(t, tg.gone, "target seeing its connection closed")
			}
			r := recv(t, res, "client's result")
			switch {
			case tc.wantTimeout && !errors.Is(r.err, context.DeadlineExceeded):
				t.Fatalf("client got %q, %v; want its deadline", r.body, r.err)
			case !tc.wantTimeout && (!isBroken(r.err) || isTimeout(r.err)):
				t.Fatalf("client got %q, %v; want a reset or EOF", r.body, r.err)
			}
		})
	}
}

func TestDropResponsesRunsRequestsButLosesTheirAnswers(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	c := newClient(t)
	p.DropResponses(2)

	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("bill %d", i)
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		got, err := post(ctx, c, p.URL(), body)
		cancel()
		if i <= 2 {
			if !isBroken(err) || isTimeout(err) {
				t.Fatalf("request %d: %q, %v; want a reset or EOF", i, got, err)
			}
		} else if err != nil || got != "answer to "+body {
			t.Fatalf("request %d after the budget: %q, %v", i, got, err)
		}
		// The target received the whole request and answered it.
		if h := recv(t, tg.handled, "request at the target"); h != body {
			t.Fatalf("target handled %q, want %q", h, body)
		}
	}
	want := faultproxy.Stats{Connections: 3, Requests: 3, DroppedResponses: 2}
	if got := p.Stats(); got != want {
		t.Errorf("Stats %+v, want %+v", got, want)
	}
}

func TestDropResponsesCountsRequestsOnAKeptAliveConnection(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	c := newClient(t)

	mustPost(t, c, p.URL(), "bill 1")
	p.DropResponses(1)

	ctx, reused := reusedConn(context.Background())
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	_, err := post(ctx, c, p.URL(), "bill 2")
	if !isBroken(err) || isTimeout(err) {
		t.Fatalf("second request: %v, want a reset or EOF", err)
	}
	if !reused() {
		t.Fatal("second request did not reuse the first connection; the test proves nothing")
	}
	mustPost(t, c, p.URL(), "bill 3")

	for _, want := range []string{"bill 1", "bill 2", "bill 3"} {
		if h := recv(t, tg.handled, "request at the target"); h != want {
			t.Fatalf("target handled %q, want %q", h, want)
		}
	}
	want := faultproxy.Stats{Connections: 2, Requests: 3, DroppedResponses: 1}
	if got := p.Stats(); got != want {
		t.Errorf("Stats %+v, want %+v", got, want)
	}
}

func TestDropResponsesSparesTheRequestAlreadyInFlight(t *testing.T) {
	tg := newTarget(t, true)
	p := newProxy(t, tg.addr())
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	inFlight := postAsync(ctx, c, p.URL(), "bill 1")
	recv(t, tg.entered, "first request at the target")

	p.DropResponses(1)
	tg.release <- struct{}{}
	if r := recv(t, inFlight, "first answer"); r.err != nil || r.body != "answer to bill 1" {
		t.Fatalf("request in flight: %q, %v; want its answer", r.body, r.err)
	}

	next := postAsync(ctx, c, p.URL(), "bill 2")
	recv(t, tg.entered, "second request at the target")
	tg.release <- struct{}{}
	if r := recv(t, next, "second result"); !isBroken(r.err) {
		t.Fatalf("next request: %q, %v; want its answer dropped", r.body, r.err)
	}
	if got := p.Stats(); got.Requests != 2 || got.DroppedResponses != 1 {
		t.Errorf("Stats %+v, want 2 requests, 1 dropped", got)
	}
}

func TestDroppedAnswerDeliversNotOneByte(t *testing.T) {
	for _, size := range []int{0, 4 << 20} {
		t.Run(fmt.Sprintf("answer padded by %d bytes", size), func(t *testing.T) {
			tg := newTarget(t, false)
			p := newProxy(t, tg.addr())
			p.DropResponses(1)
			conn, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(patience))

			req := fmt.Sprintf("POST /?size=%d HTTP/1.1\r\nHost: platform\r\nContent-Length: 4\r\n\r\nbill", size)
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(conn)
			if len(got) != 0 {
				t.Fatalf("client read %d bytes of the answer: %.40q", len(got), got)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read: %v, want a TCP reset", err)
			}
			if h := recv(t, tg.handled, "request at the target"); h != "bill" {
				t.Fatalf("target handled %q", h)
			}
		})
	}
}

func TestRefuseMakesConnectingFailUntilHealed(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	if err := p.Refuse(); err != nil {
		t.Fatal(err)
	}

	if _, err := net.Dial("tcp", p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial a refusing proxy: %v, want ECONNREFUSED", err)
	}
	// The HTTP client fails in its dial, before writing a byte: the one
	// failure that proves nothing was delivered.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, err := post(ctx, newClient(t), p.URL(), "bill")
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("post to a refusing proxy: %v, want a dial error", err)
	}

	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	mustPost(t, newClient(t), p.URL(), "bill")
	if n := tg.calls.Load(); n != 1 {
		t.Errorf("target handled %d requests, want the one after Heal", n)
	}
}

// TestRefuseKeepsThePortFromOtherServers: after any number of refusals
// Heal listens again, because nobody else could take the port meanwhile
// (package heldport proves the client side).
func TestRefuseKeepsThePortFromOtherServers(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	for round := range 3 {
		if err := p.Refuse(); err != nil {
			t.Fatal(err)
		}
		if ln, err := net.Listen("tcp", p.Addr()); !errors.Is(err, syscall.EADDRINUSE) {
			if err == nil {
				ln.Close()
			}
			t.Fatalf("round %d: another server listening on the refusing proxy's port: %v, want EADDRINUSE", round, err)
		}
		if err := p.Heal(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		mustPost(t, newClient(t), p.URL(), "bill")
	}
}

func TestHealRestoresPassThrough(t *testing.T) {
	cases := []struct {
		name  string
		fault func(*faultproxy.Proxy) error
	}{
		{"reset", (*faultproxy.Proxy).Reset},
		{"black hole", (*faultproxy.Proxy).BlackHole},
		{"refuse", (*faultproxy.Proxy).Refuse},
		{"latency", func(p *faultproxy.Proxy) error { p.Latency(time.Hour); return nil }},
		{"drop responses", func(p *faultproxy.Proxy) error { p.DropResponses(10); return nil }},
		{"every fault in turn", func(p *faultproxy.Proxy) error {
			p.Latency(time.Hour)
			p.DropResponses(10)
			return errors.Join(p.Refuse(), p.BlackHole(), p.Reset(), p.Refuse())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, false)
			p := newProxy(t, tg.addr())
			if err := tc.fault(p); err != nil {
				t.Fatal(err)
			}
			if err := p.Heal(); err != nil {
				t.Fatal(err)
			}
			mustPost(t, newClient(t), p.URL(), "bill")
			if got := p.Stats().DroppedResponses; got != 0 {
				t.Errorf("%d answers dropped after Heal", got)
			}
		})
	}
}

func TestHealLeavesBlackHoledConnectionsSilent(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	old, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	_ = old.SetDeadline(time.Now().Add(patience))
	oldReader := bufio.NewReader(old)
	exchange := func(body string) error {
		req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: platform\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		if _, err := io.WriteString(old, req); err != nil {
			return err
		}
		res, err := http.ReadResponse(oldReader, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, res.Body)
		return errors.Join(err, res.Body.Close())
	}
	// One exchange proves the connection passes before the black hole.
	if err := exchange("bill 1"); err != nil {
		t.Fatal(err)
	}
	if err := p.BlackHole(); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}

	mustPost(t, newClient(t), p.URL(), "bill 2")
	_ = old.SetDeadline(time.Now().Add(clientWait))
	if err := exchange("lost"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("black-holed connection after Heal: %v; want silence", err)
	}
	if n := tg.calls.Load(); n != 2 {
		t.Errorf("target handled %d requests, want 2 (none from the black-holed connection)", n)
	}
}

// TestFaultsSwitchSafelyUnderLoad flips faults while clients send, one
// switch per finished request; run with -race it proves the switches are
// safe for concurrent use, and afterwards the proxy still passes traffic.
func TestFaultsSwitchSafelyUnderLoad(t *testing.T) {
	tg := newTarget(t, false)
	p := newProxy(t, tg.addr())
	faults := []func() error{
		p.Reset,
		p.BlackHole,
		p.Heal,
		func() error { p.DropResponses(2); return nil },
		func() error { p.Latency(time.Millisecond); return nil },
		p.Refuse,
		p.Heal,
	}

	const workers, each = 4, 8
	finished := make(chan struct{})
	workersDone := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { workersDone <- struct{}{} }()
			c := newClient(t)
			for i := range each {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				_, _ = post(ctx, c, p.URL(), fmt.Sprintf("w%d-%d", w, i))
				cancel()
				finished <- struct{}{}
			}
		}()
	}
	switched := 0
	for done := 0; done < workers; {
		select {
		case <-finished:
			if err := faults[switched%len(faults)](); err != nil {
				t.Errorf("switch %d: %v", switched, err)
			}
			switched++
		case <-workersDone:
			done++
		}
	}

	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	mustPost(t, newClient(t), p.URL(), "after the storm")
	s := p.Stats()
	if handled := tg.calls.Load(); handled > s.Requests {
		t.Errorf("target handled %d requests, proxy forwarded only %d", handled, s.Requests)
	}
	if s.DroppedResponses > s.Requests {
		t.Errorf("Stats %+v: more answers dropped than requests forwarded", s)
	}
}

// reusedConn returns a context that records whether the request used a
// kept-alive connection, and the func that reports it.
func reusedConn(ctx context.Context) (context.Context, func() bool) {
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	return httptrace.WithClientTrace(ctx, trace), func() bool { return reused }
}
