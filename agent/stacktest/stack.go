// Package stacktest starts the whole system in one test process, over
// loopback: the sandbox platform on an HTTP port with a fresh state file,
// and the real agent (journal, platform client, workflow, local API) in
// front of it. A fault handler between the two drops answers after the
// platform has committed, and counts what each transaction saw.
package stacktest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/faultproxy"
	"github.com/seed-a859fada/medterm/sync/forward"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Institution is the sandbox institution the agent belongs to.
const Institution = "H44190000001"

// Options tune the stack.
type Options struct {
	// SessionTTL of the sandbox's sign-ins (default 12h).
	SessionTTL time.Duration
	// RetryWindow of the agent's client for lost answers (default 5s).
	RetryWindow time.Duration
	// Clock shared by the sandbox and the agent (default: the wall clock).
	Clock clock.Clock
	// Offline limits (default: agent.DefaultOfflinePolicy()).
	Offline *agent.OfflinePolicy
	// InDoubtWindow of the service (default 10 minutes).
	InDoubtWindow time.Duration
	// Proxy puts a TCP fault proxy between the agent and the sandbox.
	Proxy bool
	// AttemptTimeout of one platform exchange (default 5 s).
	AttemptTimeout time.Duration
	// Personas seed the sandbox (default: personas.Default()).
	Personas *personas.Dataset
	// JournalFrom is the Dir of an earlier stack whose journal (and key)
	// this one starts from, copied so that the original stays as it was:
	// one prepared backlog serves several runs.
	JournalFrom string
}

// Stack is a running sandbox and agent.
type Stack struct {
	Sandbox   *sandbox.Platform
	Personas  *personas.Dataset
	Journal   *journal.Journal
	Client    *client.Client
	Service   *agent.Service
	API       *api.Client
	Faults    *Faults
	Proxy     *faultproxy.Proxy // nil unless Options.Proxy
	Forwarder *forward.Forwarder
	Dir       string
	Token     string

	platformURL string
	clock       clock.Clock
}

// Clock is the stack's clock.
func (s *Stack) Clock() clock.Clock { return s.clock }

// Start starts a stack and stops it when the test ends.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	if opts.RetryWindow == 0 {
		opts.RetryWindow = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	data := opts.Personas
	if data == nil {
		var err error
		if data, err = personas.Default(); err != nil {
			t.Fatal(err)
		}
	}
	if opts.JournalFrom != "" {
		for _, f := range []string{journalFile, keyFile} {
			if err := copyFile(filepath.Join(opts.JournalFrom, f), filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	sb, err := sandbox.Open(filepath.Join(dir, "sandbox.db"), sandbox.Options{
		Clock: opts.Clock, Personas: data, Secrets: map[string][]byte{Institution: secret},
		SessionTTL: opts.SessionTTL, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	faults := &Faults{next: sb.Handler(), drop: map[string]int{}, seen: map[string]int{}}
	hs := httptest.NewUnstartedServer(faults)
	hs.Listener.Close()
	hs.Listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs.Start()
	t.Cleanup(hs.Close)
	platformURL := hs.URL
	var proxy *faultproxy.Proxy
	if opts.Proxy {
		proxy, err = faultproxy.New(hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proxy.Close() })
		platformURL = proxy.URL()
	}
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = 5 * time.Second
	}
	offline := agent.DefaultOfflinePolicy()
	if opts.Offline != nil {
		offline = *opts.Offline
	}

	j, err := journal.Open(filepath.Join(dir, "journal.db"), journal.Options{
		KeyFile: filepath.Join(dir, "keys", "journal.key"), Institution: Institution, Slot: 1,
		IDPrefix: "DESK01", Clock: opts.Clock, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	pc, err := client.New(client.Config{
		BaseURL: platformURL, InstitutionCode: Institution, InstitutionName: "sandbox hospital", Region: "441900",
		DevNo: "DESK01", Secret: secret, RetryWindow: opts.RetryWindow, ConnectWindow: time.Second,
		AttemptTimeout: opts.AttemptTimeout, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		BreakerThreshold: 3, BreakerCooldown: 200 * time.Millisecond,
		NextMsgid: j.AllocateMsgid, Clock: opts.Clock, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Platform: pc, Clock: opts.Clock, Logger: log,
		Receipt: agent.ReceiptHeader{Institution: "sandbox hospital", TerminalID: "DESK01"},
		Offline: offline, InDoubtWindow: opts.InDoubtWindow, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	fwd := forward.New(svc, pc, forward.Config{Concurrency: 4, Clock: opts.Clock, Logger: log})
	token := strings.Repeat("t", 32)
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(token), Service: svc, Logger: log, Drain: fwd.Drain})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &Stack{
		Sandbox: sb, Personas: data, Journal: j, Client: pc, Service: svc,
		API: api.NewClient(srv.Addr(), token), Faults: faults, Dir: dir, Token: token, platformURL: platformURL,
		Proxy: proxy, Forwarder: fwd, clock: opts.Clock,
	}
}

// The journal and its key, relative to a stack's Dir.
var (
	journalFile = "journal.db"
	keyFile     = filepath.Join("keys", "journal.key")
)

// copyFile copies a closed or idle file (every bbolt commit is synced
// before it returns, so an idle journal file is consistent as it lies).
func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}

// Faults sits between the agent and the sandbox. It can let a request
// through to the platform, which commits it, and then drop the answer: the
// hard case of an unknown outcome.
type Faults struct {
	next http.Handler
	mu   sync.Mutex
	drop map[string]int // infno → answers still to drop
	seen map[string]int // infno → requests that reached the platform
}

// DropAnswers drops the next n answers to infno after the platform has
// processed them.
func (f *Faults) DropAnswers(infno string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop[infno] += n
}

// Seen returns how many requests of infno reached the platform.
func (f *Faults) Seen(infno string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[infno]
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	infno, _ := strings.CutPrefix(r.URL.Path, "/tx/")
	f.mu.Lock()
	f.seen[infno]++
	drop := f.drop[infno] > 0
	if drop {
		f.drop[infno]--
	}
	f.mu.Unlock()
	if !drop {
		f.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r) // the platform processes and commits
	_, _ = io.Copy(io.Discard, rec.Result().Body)
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close() // the answer never arrives
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// Drain forwards until nothing is pending or the deadline passes, and
// returns what is still pending.
func (s *Stack) Drain(t testing.TB, deadline time.Duration) []*agent.Settlement {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		s.Forwarder.Pass(context.Background(), true)
		left, err := s.Service.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 || time.Now().After(end) {
			return left
		}
	}
}
