//go:build linux

package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/cmd/medterm/killtest"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// killCycles is how many times `make test` kills the daemon; `make soak`
// sets MEDTERM_SOAK to a duration and the cycles run for that long.
const killCycles = 100

// Where in its life a cycle kills the daemon.
const (
	killAtStartup  = "start-up"      // before or just as the API answers
	killUnderLoad  = "under load"    // while the clients submit bills
	killAfterBurst = "after a burst" // right after many bills arrive at once
)

// killRun is the state of one kill test run.
type killRun struct {
	t        *testing.T
	rng      *rand.Rand
	bin, cfg string
	addr     string
	dir      string
	log      *os.File
	platform *killtest.Platform
	book     *killtest.Book
	api      *api.Client

	mu     sync.Mutex
	daemon *killtest.Daemon // the one running, killed by t.Cleanup if the test stops early
}

func TestKillDaemonUnderLoadSettlesEveryAcknowledgedBillExactlyOnce(t *testing.T) {
	soak := soakDuration(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MEDTERM_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MEDTERM_KILL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (MEDTERM_KILL_SEED=%d draws the same bills, faults and kill moments again)", seed, seed)
	r := startKillRun(t, seed)

	clients := make([]*killtest.Client, 3+r.rng.IntN(2))
	for i := range clients {
		clients[i] = killtest.NewClient(r.book, seed+uint64(i)+1)
	}
	kills := map[string]int{}
	lossyCycles := 0
	began := time.Now()
	cycle := 0
	for ; more(cycle, soak, began); cycle++ {
		kind, lossy := r.cycle(cycle, clients)
		kills[kind]++
		if lossy {
			lossyCycles++
		}
	}
	unansweredAtLastKill := len(r.book.Unanswered())
	cyclesTook := time.Since(began)

	recovering := time.Now()
	final := r.recover()
	recoveryTook := time.Since(recovering)
	ledger, err := r.platform.Sandbox.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	payLedger, err := r.platform.PayChannel.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	bills := r.book.Bills()
	rep, errs := killtest.Check(bills, final, killtest.Ledgers{Insurance: ledger, Payment: payLedger}, killTerminal)
	for i, e := range errs {
		if i == 40 {
			t.Errorf("... and %d more", len(errs)-i)
			break
		}
		t.Error(e)
	}

	var sent, down, cut, cutFirst int
	var refused []string
	for _, b := range bills {
		sent += b.Sent
		down += b.Down
		cut += b.Cut
		if b.CutFirst {
			cutFirst++
		}
		for _, m := range b.Refused {
			refused = append(refused, b.Key+": "+m)
		}
	}
	for _, m := range refused {
		t.Errorf("the API refused a well-formed bill: %s", m)
	}
	t.Logf("%d cycles in %s with %d clients; kills: %d at start-up, %d under load, %d after a burst; %d cycles lost answers after the counterparty committed (platform, by infno: %v; payment channel, by txnType: %v)",
		cycle, cyclesTook.Round(time.Millisecond), len(clients), kills[killAtStartup], kills[killUnderLoad], kills[killAfterBurst], lossyCycles,
		r.platform.Lossy.Lost(), r.platform.PayLossy.Lost())
	t.Logf("%d bills, %d submissions: %d answered, %d cut by a kill, %d refused at connect (daemon down); %d bills answered only after a cut submission, %d still unanswered at the last kill and resubmitted after it",
		len(bills), sent, sent-cut-down-len(refused), cut, down, cutFirst, unansweredAtLastKill)
	t.Logf("restart, resubmission and drain took %s; final states %v, patients' parts %v; told settled %d, declined %d; in doubt at some point and resolved %d; deferred %d; platform: %d standing, %d reversed; payment channel: %d payments booked, %d orders refused, %d parts took more than one order",
		recoveryTook.Round(time.Millisecond), rep.States, rep.Payments, rep.AnsweredSettled, rep.AnsweredDeclined, rep.InDoubtResolved, rep.Deferred,
		rep.ActiveLedger, rep.ReversedLedger, rep.ChannelBooked, rep.ChannelRefused, rep.MultiOrder)

	// A run that never lost an answer, never left a bill in doubt, never
	// settled anything or never took a patient's part proved nothing.
	if cutFirst == 0 || rep.InDoubtResolved == 0 || rep.AnsweredSettled == 0 || rep.States[agent.StateDeclined] == 0 ||
		rep.Payments[agent.PayPaid] == 0 || rep.ChannelBooked == 0 {
		t.Errorf("the run did not exercise the cases: %d bills cut before an answer, %d in doubt, %d told settled, %d declined, %d parts paid, %d payments booked",
			cutFirst, rep.InDoubtResolved, rep.AnsweredSettled, rep.States[agent.StateDeclined], rep.Payments[agent.PayPaid], rep.ChannelBooked)
	}
	if t.Failed() {
		t.Logf("daemon log (tail):\n%s", killtest.Tail(filepath.Join(r.dir, "medterm.log"), 8<<10))
	}
}

// soakDuration is MEDTERM_SOAK as a duration, or zero for the fixed
// number of cycles of `make test`.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("MEDTERM_SOAK")
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("MEDTERM_SOAK=%q must be a duration such as 10m", s)
	}
	return d
}

func more(cycle int, soak time.Duration, began time.Time) bool {
	if soak > 0 {
		return time.Since(began) < soak
	}
	return cycle < killCycles
}

// killTerminal is the daemon's dev_no.
const killTerminal = "KILL01"

func startKillRun(t *testing.T, seed uint64) *killRun {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := killtest.Build(ctx, ".", dir)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := killtest.StartPlatform(dir, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	addr, err := killtest.FreeAddr(seed)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := killtest.WriteConfig(dir, killtest.Setup{
		PlatformURL: pl.URL, Institution: killtest.Institution, Token: pl.Token,
		APIAddr: addr, Terminal: killTerminal, Slot: 7, Payment: pl.Payment(),
	})
	if err != nil {
		t.Fatal(err)
	}
	keepLog(t, filepath.Join(dir, "medterm.log"))
	lf, err := os.OpenFile(filepath.Join(dir, "medterm.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.Close() })
	r := &killRun{t: t, rng: rand.New(rand.NewPCG(seed, ^seed)), bin: bin, cfg: cfg, addr: addr, dir: dir, log: lf,
		platform: pl, book: killtest.NewBook(pl.Personas, seed)}
	t.Cleanup(func() {
		r.mu.Lock()
		d := r.daemon
		r.mu.Unlock()
		if d != nil {
			d.Kill() // by its pid; the test never leaves a daemon behind
		}
	})
	return r
}

// start runs the daemon; the first start waits for its API and reads the
// token it creates, so that later cycles may kill it at any moment.
func (r *killRun) start(waitHealthy bool) *killtest.Daemon {
	r.t.Helper()
	d, err := killtest.Start(r.bin, r.cfg, r.log)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.daemon = d
	r.mu.Unlock()
	if waitHealthy || r.api == nil {
		r.waitHealthy(d)
	}
	return d
}

func (r *killRun) waitHealthy(d *killtest.Daemon) {
	r.t.Helper()
	token, err := d.WaitHealthy(context.Background(), r.addr, filepath.Join(r.dir, "api.token"), 20*time.Second)
	if err != nil {
		r.t.Fatalf("%v\ndaemon log (tail):\n%s", err, killtest.Tail(filepath.Join(r.dir, "medterm.log"), 4<<10))
	}
	if r.api == nil {
		r.api = api.NewClient(r.addr, token)
	}
}

// cycle starts the daemon, loads it from the clients, and kills it with
// SIGKILL at a moment drawn at random. In about a third of the cycles the
// platform and the payment channel lose answers after committing them, so
// that settlements are in doubt, and payments of unknown outcome, when
// the kill comes.
func (r *killRun) cycle(n int, clients []*killtest.Client) (kind string, lossy bool) {
	r.t.Helper()
	rng := r.rng
	lossy = rng.IntN(3) == 0
	if lossy {
		r.platform.Lossy.SetRates(map[string]float64{
			protocol.Settle.Infno:     0.5 + 0.45*rng.Float64(),
			protocol.PreSettle.Infno:  0.15,
			protocol.UploadFees.Infno: 0.15,
			protocol.PersonInfo.Infno: 0.1,
		})
		r.platform.PayLossy.SetRates(map[string]float64{
			acp.TxnConsume:        0.3 + 0.4*rng.Float64(),
			acp.TxnQuery:          0.2,
			acp.TxnAgreementQuery: 0.1,
		})
	} else {
		r.platform.Lossy.SetRates(nil)
		r.platform.PayLossy.SetRates(nil)
	}
	switch p := rng.IntN(10); {
	case p < 2 && n > 0:
		kind = killAtStartup
	case p < 5:
		kind = killAfterBurst
	default:
		kind = killUnderLoad
	}
	d := r.start(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var burstLeft []*killtest.Bill
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx, r.api) }()
	}
	switch kind {
	case killAtStartup:
		r.wait(d, time.Duration(rng.IntN(150))*time.Millisecond)
	case killUnderLoad:
		r.waitHealthy(d)
		load := 20 + rng.IntN(400)
		if lossy {
			load += rng.IntN(1200) // long enough for answers of in-doubt settlements
		}
		r.wait(d, time.Duration(load)*time.Millisecond)
	case killAfterBurst:
		r.waitHealthy(d)
		r.wait(d, time.Duration(rng.IntN(150))*time.Millisecond)
		burst := 6 + rng.IntN(8)
		wg.Add(1)
		go func() { defer wg.Done(); burstLeft = killtest.Burst(ctx, r.api, r.book, burst) }()
		r.wait(d, time.Duration(rng.IntN(30))*time.Millisecond)
	}
	if !d.Kill() {
		r.t.Fatalf("cycle %d: the daemon exited by itself before the kill: %v\ndaemon log (tail):\n%s",
			n, d.Err(), killtest.Tail(filepath.Join(r.dir, "medterm.log"), 4<<10))
	}
	cancel()
	wg.Wait()
	for i, b := range burstLeft { // the workstations that sent them send them again
		clients[i%len(clients)].Adopt(b)
	}
	return kind, lossy
}

// wait lets the daemon run for d, or less if it exits by itself (the kill
// that follows reports it).
func (r *killRun) wait(dm *killtest.Daemon, d time.Duration) {
	r.t.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-dm.Done():
	}
}

// recover starts the daemon for good with nothing lost any more, and
// plays the HIS's part: every bill that never got an answer is submitted
// again under its key until it does; everything pending is drained; a
// bill that failed with nothing booked is submitted again until it ends.
// It returns every bill's settlement as the agent finally shows it.
func (r *killRun) recover() map[string]api.SettlementView {
	r.t.Helper()
	r.platform.Lossy.SetRates(nil)
	r.platform.PayLossy.SetRates(nil)
	r.start(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if left := killtest.Resubmit(ctx, r.api, r.book, r.book.Unanswered(), 4, func(api.SettlementView) bool { return true }); len(left) > 0 {
		r.t.Fatalf("%d bills still unanswered after the restart (first %s)", len(left), left[0].Key)
	}
	r.drain(ctx)
	final := r.finalViews(ctx)
	var failed []*killtest.Bill
	for _, b := range r.book.Bills() {
		if final[b.Key].State == agent.StateFailed {
			failed = append(failed, b)
		}
	}
	if len(failed) > 0 {
		r.t.Logf("%d bills failed with nothing booked (refused offline, or reversed): submitted again under their keys", len(failed))
		left := killtest.Resubmit(ctx, r.api, r.book, failed, 4, func(v api.SettlementView) bool { return v.State.Terminal() })
		if len(left) > 0 {
			r.t.Fatalf("%d failed bills did not settle or end when submitted again (first %s: %s)", len(left), left[0].Key, left[0].Last().State)
		}
		r.drain(ctx)
		final = r.finalViews(ctx)
	}
	return final
}

// drain asks the daemon to forward everything now and polls its status
// until nothing is pending.
func (r *killRun) drain(ctx context.Context) {
	r.t.Helper()
	if _, err := r.api.Do(ctx, http.MethodPost, "/v1/sync", nil, nil, nil); err != nil {
		r.t.Fatalf("POST /v1/sync: %v", err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var st api.Status
	for {
		if err := r.api.Status(ctx, &st); err != nil {
			r.t.Fatalf("GET /v1/status: %v", err)
		}
		if st.Backlog.Count+st.Backlog.Unfinished == 0 {
			return
		}
		select {
		case <-ctx.Done():
			r.t.Fatalf("still pending after the drain: backlog %d, unfinished %d, states %v", st.Backlog.Count, st.Backlog.Unfinished, st.States)
		case <-tick.C:
		}
	}
}

// finalViews fetches every bill's settlement with its history.
func (r *killRun) finalViews(ctx context.Context) map[string]api.SettlementView {
	r.t.Helper()
	out := map[string]api.SettlementView{}
	for _, b := range r.book.Bills() {
		if !b.Answered() {
			continue
		}
		v, err := r.api.Get(ctx, b.Last().ID, false)
		if err != nil {
			r.t.Fatalf("bill %s: GET %s: %v", b.Key, b.Last().ID, err)
		}
		out[b.Key] = v
	}
	return out
}

// PRODUCT BUG, left failing for the fix: loadOrCreateToken (serve.go)
// creates api.token under its final name and only then writes the token,
// so a first start that is killed between the two, or runs out of disk
// space, leaves an empty token file, and every later start refuses it
// ("holds fewer than 16 characters") until someone deletes it. A kill
// would have to land between two system calls; a full filesystem stops
// the write every time. Fix: write a temporary file in the same
// directory, fsync it, rename it into place (and fsync the directory).
func TestTokenFileIsNeverLeftHalfWrittenByAnInterruptedFirstStart(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("medterm-token-test", dir, "tmpfs", 0, "size=4k,mode=0700"); err != nil {
		t.Fatalf("mount a 4 KiB tmpfs on %s: %v (this test needs root, as CI runs it)", dir, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	ballast, err := os.Create(filepath.Join(dir, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 512)
	for err == nil {
		_, err = ballast.Write(chunk)
	}
	ballast.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the filesystem: %v; want no space left", err)
	}
	token := filepath.Join(dir, "api.token")
	if _, err := loadOrCreateToken(token); err == nil {
		t.Fatal("a token was created on a full filesystem")
	}
	if err := os.Remove(ballast.Name()); err != nil {
		t.Fatal(err)
	}
	tok, err := loadOrCreateToken(token)
	if err != nil {
		t.Fatalf("the first start that found room again: %v; want a new token", err)
	}
	if len(tok) < 16 {
		t.Fatalf("token %d characters; want at least 16", len(tok))
	}
}
