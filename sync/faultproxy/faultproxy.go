// Package faultproxy is a loopback TCP proxy that tests put between the
// agent and the platform to inject network faults: latency, connection
// resets, a black hole, refused connections, and the one that matters most
// for settlement, a request that reaches the platform (which commits it)
// whose answer never comes back.
//
// The proxy works on TCP bytes, not on HTTP messages, so what reaches the
// platform is exactly what the client sent. It knows just enough about
// HTTP/1.1 to count requests on a keep-alive connection: client and server
// take turns (Go's client never pipelines), so the first client bytes after
// the connection opens, or after the server has started answering, begin a
// new request.
//
// Faults can be switched at any time, from any goroutine:
//
//   - Latency(d): every chunk read from either side is written to the other
//     side d after it was read. Chunks are pipelined, so a burst is not
//     delayed once per chunk; an HTTP exchange gains at least 2d (request and
//     answer). A change applies to chunks read after it, on every
//     connection.
//   - Reset(): every current connection and every new one is closed at once
//     with a TCP RST, both towards the client and towards the target.
//   - BlackHole(): new connections are accepted, what the client sends is
//     read and discarded, the target is never dialled and nothing is ever
//     answered; the client times out. Current connections go silent the
//     same way: their upstream side is closed and nothing more is delivered
//     in either direction, but the client's side stays open.
//   - DropResponses(n): the next n requests are forwarded to the target in
//     full. When the first bytes of the target's answer to one of them come
//     back, those bytes are discarded, the connection to the target is
//     closed (so the rest of the answer is never read), and the client's
//     connection is closed with a RST: the client gets not one byte of the
//     answer, while the target has run the request to the end of its
//     handler. An interim answer (100 Continue) counts as the answer, so
//     clients under test must not send Expect: 100-continue. The budget is
//     taken when a request starts; a request already in flight when
//     DropResponses is called is not one of the n.
//   - Refuse(): the listening socket is closed, so connecting gets
//     ECONNREFUSED, and current connections are reset. A refusal is the one
//     failure that proves nothing was delivered (the dial fails before a
//     byte is sent), which the agent must report as unreachable rather than
//     in doubt; accepting and then resetting would be indistinguishable from
//     Reset. Any later fault or Heal reopens the socket on the same port,
//     which the proxy holds meanwhile (package heldport), so no other
//     socket on the machine can take it.
//     A client that reuses a pooled connection in the instant before it
//     notices the reset sees a reset, not a refusal: tests that need a clean
//     refusal close idle connections first.
//   - Heal(): back to pass-through, no latency, no drops. Connections that
//     were black-holed stay silent (bytes were lost on them, so their stream
//     cannot be resumed); new connections pass.
//
// Reset, BlackHole, Refuse and Heal select what happens to connections; the
// last one called wins. Latency and DropResponses shape the traffic that
// passes and stay until changed or healed. A new connection gets the policy
// in force when the proxy accepts it, which can be just after the client's
// dial returned: a test that needs a connection under a given fault dials
// after switching the fault on and does not switch again until the
// connection has shown it (or uses a connection that was already open).
//
// When the proxy cannot dial the target, the client's connection is reset.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/heldport"
)

// policy is what the proxy does with connections.
type policy int32

const (
	passThrough policy = iota
	resetAll
	blackHole
	refuse
)

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string
	port   *heldport.Port
	clk    clock.Clock

	// ctx is cancelled by Close, so that a dial in progress gives up.
	ctx    context.Context
	cancel context.CancelFunc

	policy   atomic.Int32
	latency  atomic.Int64 // nanoseconds
	dropLeft atomic.Int64

	connections atomic.Int64
	requests    atomic.Int64
	dropped     atomic.Int64

	mu     sync.Mutex
	ln     net.Listener // nil while refused or closed
	links  map[*link]struct{}
	closed bool

	// wg counts every goroutine the proxy starts, so that Close returns
	// only when all of them have.
	wg sync.WaitGroup
}

// Stats are the proxy's counters since New.
type Stats struct {
	// Connections is the number of client connections accepted, whatever
	// happened to them.
	Connections int64
	// Requests is the number of requests whose bytes were forwarded to the
	// target, dropped answers included.
	Requests int64
	// DroppedResponses is the number of requests whose answer was thrown
	// away by DropResponses.
	DroppedResponses int64
}

// Option configures a Proxy.
type Option func(*Proxy)

// WithClock makes Latency wait on c instead of the wall clock, so a test
// with a clock.Fake decides exactly when delayed bytes move on.
func WithClock(c clock.Clock) Option {
	return func(p *Proxy) { p.clk = c }
}

// New starts a proxy on 127.0.0.1 (a free port) that passes everything to
// target, a host:port whose host is a literal loopback IP address.
func New(target string, opts ...Option) (*Proxy, error) {
	if err := checkTarget(target); err != nil {
		return nil, fmt.Errorf("new proxy: %w", err)
	}
	port, err := heldport.Reserve()
	if err != nil {
		return nil, fmt.Errorf("new proxy: %w: %w", ErrListen, err)
	}
	ln, err := port.Listen()
	if err != nil {
		port.Close()
		return nil, fmt.Errorf("new proxy: %w: %w", ErrListen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		addr:   port.Addr(),
		port:   port,
		clk:    clock.Real{},
		ctx:    ctx,
		cancel: cancel,
		ln:     ln,
		links:  make(map[*link]struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	p.wg.Go(func() { p.serve(ln) })
	return p, nil
}

// checkTarget accepts only loopback targets: a test that proxied to another
// machine would no longer be a loopback test.
func checkTarget(target string) error {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("%w: %q is not host:port: %v", ErrTarget, target, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w: %q has no valid port", ErrTarget, target)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		// A name could resolve anywhere, so only literal addresses are
		// accepted.
		return fmt.Errorf("%w: host %q is not a literal loopback IP", ErrNotLoopback, host)
	}
	if !ip.IsLoopback() {
		return fmt.Errorf("%w: %s", ErrNotLoopback, ip)
	}
	return nil
}

// Addr is the proxy's address, host:port. It stays the same across Refuse
// and Heal.
func (p *Proxy) Addr() string { return p.addr }

// URL is the proxy's address as a base URL for plain HTTP.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Connections:      p.connections.Load(),
		Requests:         p.requests.Load(),
		DroppedResponses: p.dropped.Load(),
	}
}

// Latency delays every chunk, in both directions, by d. Zero or less turns
// latency off.
func (p *Proxy) Latency(d time.Duration) {
	p.latency.Store(int64(max(d, 0)))
}

// DropResponses makes the next n requests lose their answer after the
// target has handled them, replacing any budget left from an earlier call.
// Zero or less drops nothing.
func (p *Proxy) DropResponses(n int) {
	p.dropLeft.Store(int64(max(n, 0)))
}

// takeDrop reports whether the request that is starting loses its answer.
func (p *Proxy) takeDrop() bool {
	for {
		n := p.dropLeft.Load()
		if n <= 0 {
			return false
		}
		if p.dropLeft.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// Reset closes every current and new connection with a RST. Like every
// switch away from Refuse, it reopens the listener.
func (p *Proxy) Reset() error { return p.setPolicy(resetAll, "reset") }

// BlackHole swallows what clients send and never answers, on current and
// new connections.
func (p *Proxy) BlackHole() error { return p.setPolicy(blackHole, "black hole") }

// Refuse stops listening, so that connecting is refused, and resets the
// current connections.
func (p *Proxy) Refuse() error { return p.setPolicy(refuse, "refuse") }

// Heal returns to plain pass-through: no latency, no drops, listening.
func (p *Proxy) Heal() error {
	p.latency.Store(0)
	p.dropLeft.Store(0)
	return p.setPolicy(passThrough, "heal")
}

func (p *Proxy) setPolicy(pol policy, op string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	p.policy.Store(int32(pol))
	var err error
	switch {
	case pol == refuse && p.ln != nil:
		_ = p.ln.Close()
		p.ln = nil
	case pol != refuse && p.ln == nil:
		err = p.listenLocked()
	}
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()

	for _, l := range links {
		switch pol {
		case resetAll, refuse:
			l.teardown(true)
		case blackHole:
			l.sink()
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// listenLocked reopens the listener on the proxy's port after Refuse.
func (p *Proxy) listenLocked() error {
	ln, err := p.port.Listen()
	if err != nil {
		return fmt.Errorf("%w: reopen %s: %w", ErrListen, p.addr, err)
	}
	p.ln = ln
	p.wg.Go(func() { p.serve(ln) })
	return nil
}

// Close stops listening, closes every connection and returns when every
// goroutine of the proxy has finished. Closing again does nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()

	p.cancel()
	for _, l := range links {
		l.teardown(false)
	}
	p.wg.Wait()
	_ = p.port.Close()
	return nil
}

// acceptRetry is the pause after a failed Accept that is not the listener
// closing (out of file descriptors, say), so that one failure does not
// stop the proxy for good and a lasting one does not spin.
const acceptRetry = 10 * time.Millisecond

func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t := time.NewTimer(acceptRetry)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		p.connections.Add(1)
		p.wg.Go(func() { p.handle(c.(*net.TCPConn)) })
	}
}

// handle applies the current policy to a new client connection.
func (p *Proxy) handle(c *net.TCPConn) {
	l := &link{p: p, client: c, done: make(chan struct{}), awaitingRequest: true}
	pol, ok := p.register(l)
	if !ok {
		closeConn(c, true)
		return
	}
	switch pol {
	case resetAll, refuse:
		l.teardown(true)
		return
	case blackHole:
		l.discard()
		return
	}
	var d net.Dialer
	up, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		if l.isSunk() {
			l.discard()
			return
		}
		l.teardown(true)
		return
	}
	if !l.attach(up.(*net.TCPConn)) {
		return
	}
	l.run()
}

// register records a new link, so that later faults and Close reach it,
// and returns the policy it starts under. A link that starts black-holed
// is marked before anyone else can see it.
func (p *Proxy) register(l *link) (policy, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, false
	}
	pol := policy(p.policy.Load())
	if pol == blackHole {
		l.sunk = true
	}
	p.links[l] = struct{}{}
	return pol, true
}

func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

func (p *Proxy) delay() time.Duration { return time.Duration(p.latency.Load()) }
