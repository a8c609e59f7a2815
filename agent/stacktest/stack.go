// Package stacktest starts the whole system in one test process, over
// loopback: the sandbox platform on an HTTP port with a fresh state file,
// and the real agent (journal, platform client, workflow, local API) in
// front of it. A fault handler between the two drops answers after the
// platform has committed (or requests before it sees them), and counts
// what each transaction saw. The agent can be killed and restarted on its
// journal (Stack.Restart).
package stacktest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
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
	"github.com/seed-a859fada/medterm/sync/insurance"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/transport"
	"github.com/seed-a859fada/medterm/sync/unionpay"
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
	// PaymentProxy puts a TCP fault proxy between the agent and the
	// payment channel (Stack.PayProxy).
	PaymentProxy bool
	// PayData seeds the payment channel's agreements (default: the
	// built-in agreements.json, which match the default personas).
	PayData *paychannel.Data
	// WrapPayment, if set, wraps the agent's payment channel adapter each
	// time an agent starts (the first and every restart): a test's hook
	// at a chosen point of the payment leg.
	WrapPayment func(agent.PaymentChannel) agent.PaymentChannel
	// StepTimeout of the service: how long a settlement's work may take
	// once started (default the service's).
	StepTimeout time.Duration
	// AttemptTimeout of one platform exchange (default 5 s).
	AttemptTimeout time.Duration
	// ConnectWindow of the agent's client: how long an unreachable
	// platform is retried before a request is given up (default 1 s).
	ConnectWindow time.Duration
	// BreakerCooldown of the agent's client (default 200 ms).
	BreakerCooldown time.Duration
	// Personas seed the sandbox (default: personas.Default()).
	Personas *personas.Dataset
	// JournalFrom is the Dir of an earlier stack whose journal (and key)
	// this one starts from, copied so that the original stays as it was:
	// one prepared backlog serves several runs.
	JournalFrom string
}

// Stack is a running sandbox and agent.
type Stack struct {
	Sandbox  *sandbox.Platform
	Personas *personas.Dataset
	Journal  *journal.Journal
	Client   *client.Client
	Service  *agent.Service
	// PayChannel is the sandbox's payment channel (its own ledger), and
	// Payments the agent's adapter to it.
	PayChannel *paychannel.Channel
	Payments   *unionpay.Client
	API        *api.Client
	APIAddr    string // the local API's host:port, for callers of its raw HTTP
	Faults     *Faults
	Proxy      *faultproxy.Proxy // nil unless Options.Proxy
	PayProxy   *faultproxy.Proxy // nil unless Options.PaymentProxy
	// Insurance is the agent's insurance adapter (over Client).
	Insurance *insurance.Adapter
	// InsuranceStart and PayStart are both counterparties' books as
	// seeded, before the agent sent anything: what a test's end books are
	// compared with.
	InsuranceStart sandbox.Ledger
	PayStart       paychannel.Ledger
	Forwarder      *forward.Forwarder
	Dir            string
	Token          string

	platformURL string
	paymentURL  string
	payKeys     paychannel.Keys
	clock       clock.Clock
	opts        Options
	secret      []byte
	log         *slog.Logger
	// stops holds one function per agent started (the first and one per
	// restart); each stops that agent's API server and waits for it.
	stops []func()
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
	// The payment channel: another counterparty, its own listener and
	// ledger, keys exchanged once with the hospital.
	payKeys, err := paychannel.LoadOrMakeKeys(filepath.Join(dir, "payment-keys"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := paychannel.Open(filepath.Join(dir, "paychannel.db"), paychannel.Options{
		Key: payKeys.Channel, Merchants: map[string]*ecdsa.PublicKey{paychannel.MerchantID: payKeys.Merchant},
		Data: opts.PayData, Personas: data, Clock: opts.Clock, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	ps := httptest.NewUnstartedServer(ch.Handler())
	ps.Listener.Close()
	if ps.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ps.Start()
	t.Cleanup(ps.Close)
	paymentURL := ps.URL
	var payProxy *faultproxy.Proxy
	if opts.PaymentProxy {
		if payProxy, err = faultproxy.New(ps.Listener.Addr().String()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { payProxy.Close() })
		paymentURL = payProxy.URL()
	}
	s := &Stack{
		Sandbox: sb, Personas: data, Faults: faults, Dir: dir, Token: strings.Repeat("t", 32), PayChannel: ch,
		platformURL: platformURL, paymentURL: paymentURL, payKeys: payKeys, Proxy: proxy, PayProxy: payProxy,
		clock: opts.Clock, opts: opts, secret: secret, log: log,
	}
	if s.InsuranceStart, err = sb.Ledger(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.PayStart, err = ch.Ledger(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Journal.Close()
		for _, stop := range s.stops {
			stop()
		}
	})
	s.startAgent(t)
	return s
}

// startAgent opens the journal (creating it the first time) and starts the
// agent on it: platform client, service, forwarder and local API.
func (s *Stack) startAgent(t testing.TB) {
	t.Helper()
	opts := s.opts
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = 5 * time.Second
	}
	if opts.ConnectWindow == 0 {
		opts.ConnectWindow = time.Second
	}
	if opts.BreakerCooldown == 0 {
		opts.BreakerCooldown = 200 * time.Millisecond
	}
	offline := agent.DefaultOfflinePolicy()
	if opts.Offline != nil {
		offline = *opts.Offline
	}
	j, err := journal.Open(filepath.Join(s.Dir, journalFile), journal.Options{
		KeyFile: filepath.Join(s.Dir, keyFile), Institution: Institution, Slot: 1,
		IDPrefix: "DESK01", Clock: opts.Clock, Logger: s.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	profile, err := transport.NewTif(Institution, string(s.secret), opts.Clock)
	if err != nil {
		j.Close()
		t.Fatal(err)
	}
	pc, err := client.New(client.Config{
		URL: s.platformURL + sandbox.CallPath, InstitutionCode: Institution, InstitutionName: "sandbox hospital", Region: "441900",
		DevNo: "DESK01", Profile: profile, RetryWindow: opts.RetryWindow, ConnectWindow: opts.ConnectWindow,
		AttemptTimeout: opts.AttemptTimeout, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		BreakerThreshold: 3, BreakerCooldown: opts.BreakerCooldown,
		NextMsgid: j.AllocateMsgid, Clock: opts.Clock, Logger: s.log,
	})
	if err != nil {
		j.Close()
		t.Fatal(err)
	}
	ins, err := insurance.New(pc, insurance.Options{Institution: Institution})
	if err != nil {
		j.Close()
		t.Fatal(err)
	}
	pay, err := unionpay.New(unionpay.Config{URL: s.paymentURL + paychannel.BasePath, MerchantID: paychannel.MerchantID,
		TokenRequestor: paychannel.TokenRequestor, Enabled: true, KeyFile: s.payKeys.MerchantKeyFile, ChannelKeyFile: s.payKeys.ChannelPubFile,
		AttemptTimeout: opts.AttemptTimeout, Attempts: 2, ResendDelay: 10 * time.Millisecond},
		unionpay.Options{Clock: opts.Clock, Logger: s.log})
	if err != nil {
		j.Close()
		t.Fatal(err)
	}
	var payment agent.PaymentChannel = pay
	if opts.WrapPayment != nil {
		payment = opts.WrapPayment(pay)
	}
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: ins, Payment: payment, Clock: opts.Clock, Logger: s.log,
		Receipt: agent.ReceiptHeader{Institution: "sandbox hospital", TerminalID: "DESK01"}, StepTimeout: opts.StepTimeout,
		Offline: offline, InDoubtWindow: opts.InDoubtWindow, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	fwd := forward.New(svc, pc, forward.Config{Concurrency: 4, Clock: opts.Clock, Logger: s.log})
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(s.Token), Service: svc, Logger: s.log, Drain: fwd.Drain})
	if err != nil {
		j.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	s.stops = append(s.stops, func() { cancel(); <-done })
	s.Journal, s.Client, s.Insurance, s.Service, s.Forwarder, s.Payments = j, pc, ins, svc, fwd, pay
	s.API, s.APIAddr = api.NewClient(srv.Addr(), s.Token), srv.Addr()
}

// Restart kills the agent and starts a new one on the same journal file,
// as the daemon after a SIGKILL and a restart. The kill is the journal's
// closing: a write under way finishes, and nothing the old agent does
// after it is stored. The old local API stops taking requests; requests
// already in it, and the platform exchanges they started, run on against
// the closed journal (the platform may still receive what a killed process
// had already written to the network) and their callers get an error or
// an answer the journal had already stored. The old service, client and
// forwarder are dropped with everything they held in memory (the
// platform session, the circuit breaker, per-settlement locks); the new
// ones start from the journal alone.
func (s *Stack) Restart(t testing.TB) {
	t.Helper()
	s.Journal.Close()
	stop := s.stops[len(s.stops)-1]
	go stop() // shutting the old API down waits for its requests in flight
	s.startAgent(t)
}

// The journal and its key, relative to a stack's Dir.
var (
	journalFile = "journal.db"
	keyFile     = filepath.Join("keys", "journal.key")
)

// copyFile copies a closed or idle file (every bbolt commit is synced
// before it returns, so an idle journal file is consistent as it lies).
// The copy is synced too: left to the page cache, its pages would be
// flushed by the first commits of the test and slow them down.
func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Faults sits between the agent and the sandbox. It can let a request
// through to the platform, which commits it, and then drop the answer: the
// hard case of an unknown outcome. It can also lose a request before the
// platform sees it, which the agent cannot tell apart.
type Faults struct {
	next http.Handler
	mu   sync.Mutex
	drop map[string]int // infno → answers still to drop
	seen map[string]int // infno → requests that reached the platform
	lose map[string]int // infno → requests still to lose
	// infno → closed when the held answers may go
	hold map[string]<-chan struct{}
}

// HoldAnswers lets every request of infno through to the platform, which
// commits it at once, and holds its answer until release is closed (or
// the agent hangs up): a platform that books and answers late.
func (f *Faults) HoldAnswers(infno string, release <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold == nil {
		f.hold = map[string]<-chan struct{}{}
	}
	f.hold[infno] = release
}

// DropAnswers drops the next n answers to infno after the platform has
// processed them.
func (f *Faults) DropAnswers(infno string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop[infno] += n
}

// LoseRequests loses the next n requests of infno on their way in: the
// agent has sent them, the platform never sees them, and the connection
// closes without an answer. The agent cannot tell this from a lost answer.
func (f *Faults) LoseRequests(infno string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lose == nil {
		f.lose = map[string]int{}
	}
	f.lose[infno] += n
}

// Heal forgets the answers still to be dropped and the requests still to
// be lost.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.drop)
	clear(f.lose)
	clear(f.hold)
}

// Seen returns how many requests of infno reached the platform.
func (f *Faults) Seen(infno string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[infno]
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	infno := PeekInfno(r)
	f.mu.Lock()
	lose := f.lose[infno] > 0
	drop := !lose && f.drop[infno] > 0
	switch {
	case lose:
		f.lose[infno]--
	case drop:
		f.drop[infno]--
		f.seen[infno]++
	default:
		f.seen[infno]++
	}
	release, held := f.hold[infno]
	f.mu.Unlock()
	if held && !drop && !lose {
		rec := httptest.NewRecorder()
		f.next.ServeHTTP(rec, r)
		select {
		case <-release:
		case <-r.Context().Done():
			return // the agent gave up: nobody reads the answer
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	if !drop && !lose {
		f.next.ServeHTTP(w, r)
		return
	}
	if drop {
		LoseAnswer(w, r, f.next)
		return
	}
	hangUp(w)
}

// PeekInfno reads the transaction of a request to the gateway's one URL
// from its body, and puts the body back for the platform.
func PeekInfno(r *http.Request) string {
	if r.URL.Path != sandbox.CallPath {
		return ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, protocol.MaxBody+1))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	return protocol.PeekInfno(body)
}

// LoseAnswer lets the platform process and commit the request, then
// closes the connection without a byte of its answer: the hard case of an
// unknown outcome.
func LoseAnswer(w http.ResponseWriter, r *http.Request, platform http.Handler) {
	rec := httptest.NewRecorder()
	platform.ServeHTTP(rec, r)
	_, _ = io.Copy(io.Discard, rec.Result().Body)
	hangUp(w)
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
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
		if !s.Client.Available() {
			// The breaker is cooling down: a pass now would only record
			// another failure for every pending bill.
			<-time.After(10 * time.Millisecond)
		}
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
