package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	chunkSize = 32 << 10
	// queueLen bounds the chunks held back by latency in one direction;
	// past it the reader stops reading and TCP flow control pushes back on
	// the sender, as a slow network would.
	queueLen = 64
)

// link is one client connection and, when traffic passes, its connection
// to the target.
type link struct {
	p      *Proxy
	client *net.TCPConn
	done   chan struct{} // closed by teardown

	mu       sync.Mutex
	upstream *net.TCPConn // nil until dialled, and for ever when black-holed first
	closed   bool
	// sunk: the link is black-holed; nothing more is delivered either way.
	sunk bool
	// awaitingRequest: the next client bytes start a new request.
	awaitingRequest bool
	// dropping: the current request's answer is to be thrown away.
	dropping bool

	finished atomic.Int32 // directions whose writer has returned
}

// chunk is bytes read from one side, to be written to the other at due.
type chunk struct {
	data []byte
	due  time.Time
}

// verdict is what becomes of a chunk just read.
type verdict int

const (
	forward verdict = iota
	discard
	cut // the link has been torn down
)

// attach gives a dialled link its upstream connection, unless a fault got
// there first; then it deals with the fault and reports false.
func (l *link) attach(up *net.TCPConn) bool {
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		closeConn(up, true)
		return false
	case l.sunk:
		l.mu.Unlock()
		closeConn(up, true)
		l.discard()
		return false
	}
	l.upstream = up
	l.mu.Unlock()
	return true
}

// run pumps both directions until the link is torn down or both sides have
// finished sending.
func (l *link) run() {
	toUp := make(chan chunk, queueLen)
	toClient := make(chan chunk, queueLen)
	l.p.wg.Go(func() { l.read(l.client, toUp, l.fromClient, false) })
	l.p.wg.Go(func() { l.write(l.upstream, toUp) })
	l.p.wg.Go(func() { l.read(l.upstream, toClient, l.fromUpstream, true) })
	l.write(l.client, toClient)
}

// read reads src into out, stamping each chunk with the time it is due.
func (l *link) read(src *net.TCPConn, out chan<- chunk, inspect func() verdict, upstream bool) {
	defer close(out)
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		if n > 0 {
			switch inspect() {
			case forward:
				c := chunk{data: buf[:n], due: l.p.clk.Now().Add(l.p.delay())}
				select {
				case out <- c:
				case <-l.done:
					return
				}
			case cut:
				return
			}
		}
		if err == nil {
			continue
		}
		switch {
		case errors.Is(err, io.EOF):
			// The writer passes the half-close on once the queue is empty.
		case upstream && l.isSunk():
			// The black hole closed this side itself.
		default:
			// A reset from one side is passed on to the other.
			l.teardown(true)
		}
		return
	}
}

// write writes each chunk to dst when it is due, then half-closes dst.
func (l *link) write(dst *net.TCPConn, in <-chan chunk) {
	defer l.directionDone()
	for c := range in {
		if wait := c.due.Sub(l.p.clk.Now()); wait > 0 {
			select {
			case <-l.p.clk.After(wait):
			case <-l.done:
				return
			}
		}
		if l.isSunk() {
			continue
		}
		if _, err := dst.Write(c.data); err != nil {
			l.teardown(true)
			return
		}
	}
	if !l.isSunk() {
		_ = dst.CloseWrite()
	}
}

// directionDone tears the link down once both directions are over.
func (l *link) directionDone() {
	if l.finished.Add(1) == 2 {
		l.teardown(false)
	}
}

// fromClient sees client bytes: the first after an answer starts a request.
func (l *link) fromClient() verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sunk {
		return discard
	}
	if l.awaitingRequest {
		l.awaitingRequest = false
		l.p.requests.Add(1)
		l.dropping = l.p.takeDrop()
	}
	return forward
}

// fromUpstream sees target bytes: an answer, which may be one to lose.
func (l *link) fromUpstream() verdict {
	l.mu.Lock()
	if l.sunk {
		l.mu.Unlock()
		return discard
	}
	l.awaitingRequest = true
	if !l.dropping {
		l.mu.Unlock()
		return forward
	}
	l.mu.Unlock()
	l.p.dropped.Add(1)
	l.teardown(true)
	return cut
}

// discard reads and throws away what the client sends until it goes away
// or the link is torn down: the black hole.
func (l *link) discard() {
	buf := make([]byte, chunkSize)
	for {
		if _, err := l.client.Read(buf); err != nil {
			l.teardown(false)
			return
		}
	}
}

// sink black-holes a passing link: the target side is closed and nothing
// more is delivered, while the client side stays open and unanswered.
func (l *link) sink() {
	l.mu.Lock()
	if l.closed || l.sunk {
		l.mu.Unlock()
		return
	}
	l.sunk = true
	up := l.upstream
	l.mu.Unlock()
	if up != nil {
		closeConn(up, true)
	}
}

func (l *link) isSunk() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sunk
}

// teardown closes both sides, with a RST when rst is set, and unblocks
// every goroutine of the link. Only the first call does anything.
func (l *link) teardown(rst bool) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	up := l.upstream
	l.mu.Unlock()
	closeConn(l.client, rst)
	if up != nil {
		closeConn(up, rst)
	}
	l.p.forget(l)
}

// closeConn closes c; with rst, linger 0 makes the kernel send a RST
// instead of a FIN, which is what a reset fault and a lost answer need.
func closeConn(c *net.TCPConn, rst bool) {
	if rst {
		_ = c.SetLinger(0)
	}
	_ = c.Close()
}
