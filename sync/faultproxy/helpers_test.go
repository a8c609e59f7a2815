package faultproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/sync/faultproxy"
)

// patience bounds every wait on a channel, so that a broken proxy fails the
// test instead of hanging it.
const patience = 5 * time.Second

// target is the platform behind the proxy in tests: a real HTTP server on
// loopback that answers "answer to <body>" and reports each request it
// handled to the end.
type target struct {
	srv     *httptest.Server
	calls   atomic.Int64
	handled chan string // bodies of requests whose answer was written

	// With held set, the handler waits after reading the body until
	// release is closed or the connection goes away (reported on gone).
	held    bool
	entered chan struct{}
	release chan struct{}
	gone    chan struct{}
}

func newTarget(t *testing.T, held bool) *target {
	t.Helper()
	tg := &target{
		handled: make(chan string, 64),
		held:    held,
		entered: make(chan struct{}, 8),
		release: make(chan struct{}),
		gone:    make(chan struct{}, 8),
	}
	tg.srv = httptest.NewServer(tg)
	t.Cleanup(tg.srv.Close)
	// Runs before srv.Close, which waits for handlers.
	t.Cleanup(func() { close(tg.release) })
	return tg
}

func (tg *target) addr() string { return tg.srv.Listener.Addr().String() }

func (tg *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	tg.calls.Add(1)
	if tg.held {
		tg.entered <- struct{}{}
		select {
		case <-tg.release:
		case <-r.Context().Done():
			tg.gone <- struct{}{}
			return
		}
	}
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	_, _ = io.WriteString(w, "answer to "+string(body)+strings.Repeat(".", size))
	tg.handled <- string(body)
}

// newProxy starts a proxy in front of addr that is closed when the test
// ends, and checks then that none of its goroutines is left.
func newProxy(t *testing.T, addr string, opts ...faultproxy.Option) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(addr, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", addr, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if stacks := proxyGoroutines(); len(stacks) > 0 {
			t.Errorf("%d proxy goroutines left after Close:\n%s", len(stacks), strings.Join(stacks, "\n\n"))
		}
	})
	return p
}

// proxyGoroutines returns the stacks of running goroutines that are in the
// proxy's own code. Close waits for all of them, so right after it there
// must be none: no polling needed.
func proxyGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var found []string
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		// The test package's frames read "faultproxy_test.", not
		// "faultproxy.".
		if bytes.Contains(g, []byte("/sync/faultproxy.")) {
			found = append(found, string(g))
		}
	}
	return found
}

// newClient is an HTTP client with its own connection pool.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func post(ctx context.Context, c *http.Client, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// mustPost posts body and fails the test unless the target's answer comes
// back intact.
func mustPost(t *testing.T, c *http.Client, url, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	got, err := post(ctx, c, url, body)
	if err != nil {
		t.Fatalf("post %q: %v", body, err)
	}
	if want := "answer to " + body; got != want {
		t.Fatalf("post %q: answer %q, want %q", body, got, want)
	}
}

type result struct {
	body string
	err  error
}

// postAsync posts in the background; the result arrives on the channel.
func postAsync(ctx context.Context, c *http.Client, url, body string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		b, err := post(ctx, c, url, body)
		ch <- result{b, err}
	}()
	return ch
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("no %s within %v", what, patience)
		var zero T
		return zero
	}
}

// isBroken reports whether err is a connection cut under the client: a
// reset, or the stream ending where an answer should have been.
func isBroken(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
