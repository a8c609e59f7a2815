package stacktest_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
	"github.com/seed-a859fada/medterm/sync/forward"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// The offline benchmarks: how fast a backlog of deferred bills drains to
// the sandbox over loopback, and what the journal costs one settlement,
// each against a baseline measured in the same run.
//
//	go test -run '^$' -bench DrainBacklog -benchtime 1x -timeout 30m ./agent/stacktest/
//	go test -run '^$' -bench JournalPerSettlement -benchtime 2s ./agent/stacktest/
//
// The drain uses a backlog of 10,000 bills (MEDTERM_BENCH_BACKLOG sets
// another count, e.g. 1000 for a quick run of under a minute) and the
// sandbox over bare loopback (MEDTERM_BENCH_LATENCY adds a delay). At
// 10,000 bills on a shared 2-core machine it takes about six minutes:
// some 15 s to build the backlog, then 45 to 90 s for each of the five
// drains, close enough to go test's default 10-minute timeout that a
// loaded machine needs a longer one.

// backlogEnv overrides the size of the drained backlog; latencyEnv puts
// the fault proxy between agent and sandbox with that delay on every
// chunk each way (a Go duration, e.g. 5ms), for a platform farther away
// than loopback.
const (
	backlogEnv = "MEDTERM_BENCH_BACKLOG"
	latencyEnv = "MEDTERM_BENCH_LATENCY"
)

// benchPeople is the size of the synthetic persona set: the forwarder
// keeps one patient's bills in order, so the backlog needs many patients
// for concurrency to have anything to spread.
const benchPeople = 1000

// benchPersonas is personas.Synthetic for a benchmark.
func benchPersonas(tb testing.TB, n int) *personas.Dataset {
	tb.Helper()
	d, err := personas.Synthetic(n)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// benchPayData is paychannel.SyntheticData for a benchmark.
func benchPayData(tb testing.TB, data *personas.Dataset) *paychannel.Data {
	tb.Helper()
	d, err := paychannel.SyntheticData(data)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// cardBill is bill i of persona p, identified by the card (the identity
// the offline limits trust): one class A item of 10.00 to 59.00 CNY,
// so that ten bills a day stay under the password-free daily limit.
func cardBill(p *personas.Person, key string, i int, mode string) agent.SettleRequest {
	amount := money.CNY(10 + int64(i*7%50))
	return agent.SettleRequest{
		IdempotencyKey: key, Mode: mode,
		Identity: agent.IdentityInput{CertType: protocol.CertSSCard, CertNo: p.Card.CardNo, CardSN: p.Card.CardSn, IDNo: p.Certno, Name: p.Name},
		Operator: agent.Operator{ID: "D017", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: "MZ" + strconv.Itoa(i), DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "110200001", Class: "01", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(amount), Amount: amount}}},
	}
}

// roomyLimits defers up to n bills of any patient mix; everything else is
// the default policy (card identity trusted, 500 CNY a bill).
func roomyLimits(n int) *agent.OfflinePolicy {
	p := agent.DefaultOfflinePolicy()
	p.MaxPerPatientCount, p.MaxRecords = n, n
	p.MaxPerPatientAmount, p.MaxTerminalAmount = money.CNY(1_000_000), money.CNY(100_000_000)
	return &p
}

func backlogSize(b *testing.B) int {
	v := os.Getenv(backlogEnv)
	if v == "" {
		return 10_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive count of bills", backlogEnv, v)
	}
	return n
}

func benchLatency(b *testing.B) time.Duration {
	v := os.Getenv(latencyEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		b.Fatalf("%s=%q: want a duration such as 5ms", latencyEnv, v)
	}
	return d
}

// BenchmarkDrainBacklog drains the same backlog of deferred bills (10,000
// by default, over 1,000 patients) to a fresh sandbox with the forwarder
// at several concurrency settings. bills/s is the drain rate;
// x-concurrency-1 is the speed-up against concurrency 1 of the same run;
// x-bare-commit is the time per drained bill in bare bbolt commits timed
// on the same disk before and after the drain (each bill takes five
// platform exchanges, each one commit in the sandbox's own bbolt file,
// three exchanges with the payment channel, which commits in its own,
// and the journal's writes of both legs).
// Each drain must leave the platform with exactly one active settlement
// per bill. Building the backlog is not timed: it is built once, through
// the service in force_offline mode, and each run starts from a copy of
// its journal.
func BenchmarkDrainBacklog(b *testing.B) {
	n := backlogSize(b)
	data := benchPersonas(b, benchPeople)
	pay := benchPayData(b, data)
	limits := roomyLimits(n)
	backlog := buildBacklog(b, data, pay, limits, n)
	latency := benchLatency(b)
	var base float64 // bills/s at concurrency 1
	for _, c := range []int{1, 2, 4, 8, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			var drained, bare time.Duration
			runs := 0
			for b.Loop() {
				b.StopTimer()
				s := stacktest.Start(b, stacktest.Options{Personas: data, PayData: pay, Offline: limits, JournalFrom: backlog, Proxy: latency > 0})
				if latency > 0 {
					s.Proxy.Latency(latency)
				}
				fwd := forward.New(s.Service, s.Client, forward.Config{Concurrency: c})
				base := journaltest.OpenBare(b, s.Dir)
				base.PerCommit(b, 5)
				bare += base.PerCommit(b, 50) / 2
				b.StartTimer()
				start := time.Now()
				drain(b, s, fwd)
				drained += time.Since(start)
				b.StopTimer()
				bare += base.PerCommit(b, 50) / 2
				if st := fwd.Stats(); st.Failed > 0 || st.Passes > 1 {
					b.Logf("concurrency %d: %d passes, %d bills not forwarded at the first try", c, st.Passes, st.Failed)
				}
				assertDrainedOnce(b, s, n)
				runs++
				b.StartTimer()
			}
			rate := float64(n*runs) / drained.Seconds()
			b.ReportMetric(rate, "bills/s")
			b.ReportMetric(float64(drained)/float64(n*runs)/(float64(bare)/float64(runs)), "x-bare-commit")
			if c == 1 {
				base = rate
			}
			if base > 0 {
				b.ReportMetric(rate/base, "x-concurrency-1")
			}
		})
	}
}

// buildBacklog defers n bills, spread round-robin over the data set's
// people, through a service on a stack whose platform is never asked, and
// returns the stack's Dir for stacktest.Options.JournalFrom.
func buildBacklog(b *testing.B, data *personas.Dataset, pay *paychannel.Data, limits *agent.OfflinePolicy, n int) string {
	b.Helper()
	s := stacktest.Start(b, stacktest.Options{Personas: data, PayData: pay, Offline: limits})
	ctx := context.Background()
	// The provisional receipts estimate with the platform's policy, as a
	// terminal that was online earlier in the day would.
	if _, err := s.Service.FetchPolicy(ctx); err != nil {
		b.Fatal(err)
	}
	cache := &backlogCache{Journal: s.Journal, deferred: map[string]*agent.Settlement{}}
	svc := agent.NewService(agent.ServiceConfig{Journal: cache, Insurance: s.Insurance, Payment: s.Payments, Offline: *limits})
	start := time.Now()
	for i := range n {
		p := &data.People[i%len(data.People)]
		st, _, err := svc.Settle(ctx, cardBill(p, fmt.Sprintf("backlog-%05d", i), i, agent.ModeForceOffline))
		if err != nil || st.State != agent.StateDeferred {
			b.Fatalf("bill %d: %v %+v; want deferred", i, err, st)
		}
	}
	// The cache must have answered exactly what the journal holds.
	cached, _ := cache.List(ctx, agent.ListFilter{States: backlogStates})
	stored, err := s.Journal.List(ctx, agent.ListFilter{States: backlogStates})
	if err != nil || len(stored) != n || len(cached) != n {
		b.Fatalf("backlog: %d bills in the journal (%v), %d in the cache; want %d", len(stored), err, len(cached), n)
	}
	for i := range stored {
		if c, j := cached[i], stored[i]; c.ID != j.ID || c.State != j.State || !c.UpdatedAt.Equal(j.UpdatedAt) || c.PatientRef != j.PatientRef || c.Bill.Total() != j.Bill.Total() {
			b.Fatalf("backlog cache: %s at %d; the journal has %s", cached[i].ID, i, stored[i].ID)
		}
	}
	b.Logf("backlog of %d deferred bills built in %s", n, time.Since(start).Round(time.Millisecond))
	return s.Dir
}

// backlogStates are the states the service lists to check the offline
// limits before each deferral.
var backlogStates = []agent.State{agent.StateDeferred, agent.StateSettling, agent.StateInDoubt, agent.StateReversing}

// backlogCache keeps the backlog in memory while it is built, and answers
// the service's backlog listing from it. The journal answers that listing
// by decoding every deferred record, so deferring the n-th bill reads n
// records: building 10,000 would take over 20 minutes, at up to a quarter
// of a second a bill at the end. Every write still goes to the journal;
// only that one read is served from memory, and checked against the
// journal once the backlog is built.
type backlogCache struct {
	agent.Journal
	mu       sync.Mutex
	deferred map[string]*agent.Settlement
	order    []string // ids by sequence (a settlement id grows with it)
}

func (c *backlogCache) keep(st *agent.Settlement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, known := c.deferred[st.ID]
	switch in := slices.Contains(backlogStates, st.State); {
	case in && !known:
		i, _ := slices.BinarySearch(c.order, st.ID)
		c.order = slices.Insert(c.order, i, st.ID)
	case !in && known:
		c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == st.ID })
		delete(c.deferred, st.ID)
		return
	case !in:
		return
	}
	c.deferred[st.ID] = st
}

func (c *backlogCache) Accept(ctx context.Context, s *agent.Settlement, prepare func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, bool, error) {
	st, created, err := c.Journal.Accept(ctx, s, prepare)
	if err == nil {
		c.keep(st)
	}
	return st, created, err
}

func (c *backlogCache) Update(ctx context.Context, id string, fn func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, error) {
	st, err := c.Journal.Update(ctx, id, fn)
	if err == nil {
		c.keep(st)
	}
	return st, err
}

// List answers the backlog listing, newest first as the journal does;
// anything else goes to the journal.
func (c *backlogCache) List(ctx context.Context, f agent.ListFilter) ([]*agent.Settlement, error) {
	if f.Limit != 0 || len(f.States) != len(backlogStates) || slices.ContainsFunc(f.States, func(s agent.State) bool { return !slices.Contains(backlogStates, s) }) {
		return c.Journal.List(ctx, f)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*agent.Settlement, len(c.order))
	for i, id := range c.order {
		out[len(out)-1-i] = c.deferred[id]
	}
	return out, nil
}

// drain makes forced forwarding passes until nothing is pending; a pass
// that leaves something (a transient failure) is followed by another.
func drain(b *testing.B, s *stacktest.Stack, fwd *forward.Forwarder) {
	ctx := context.Background()
	for range 5 {
		fwd.Pass(ctx, true)
		left, err := s.Service.Pending(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(left) == 0 {
			return
		}
	}
	b.Fatal("bills still pending after 5 forwarding passes")
}

// assertDrainedOnce checks that the platform booked exactly one active
// settlement for each of the n bills, and the journal has each settled.
func assertDrainedOnce(b *testing.B, s *stacktest.Stack, n int) {
	b.Helper()
	ctx := context.Background()
	settled, err := s.Journal.List(ctx, agent.ListFilter{States: []agent.State{agent.StateSettled}})
	if err != nil {
		b.Fatal(err)
	}
	if len(settled) != n {
		b.Fatalf("%d bills settled in the journal; want %d", len(settled), n)
	}
	want := make(map[string]bool, n)
	for _, st := range settled {
		if st.Pay.Status != agent.PayPaid {
			b.Fatalf("%s: the patient's part %s (%s); want paid", st.ID, st.Pay.Status, st.Pay.Reason)
		}
		want[st.ID] = true
	}
	l, err := s.Sandbox.Ledger(ctx)
	if err != nil {
		b.Fatal(err)
	}
	booked := make(map[string]int, n)
	active := 0
	for _, st := range l.Settlements {
		if st.Cancelled || st.Reversed {
			continue
		}
		active++
		booked[st.ChrgBchno]++
		if !want[st.ChrgBchno] || booked[st.ChrgBchno] > 1 {
			b.Fatalf("settlement %s of bill %s booked %d times or for no settled bill", st.SetlID, st.ChrgBchno, booked[st.ChrgBchno])
		}
	}
	if active != n {
		b.Fatalf("the platform booked %d active settlements; want %d", active, n)
	}
}

// BenchmarkJournalPerSettlement settles real bills through the service
// against the sandbox with the stack's journal behind a meter: an online
// settlement, and a bill deferred (force_offline) then forwarded. The
// journal's cost per settlement is reported against a bare bbolt commit
// of 1 KiB on the same disk, timed between the settlements: writes/op
// and reads/op are the journal calls, writes-x-bare-commit the time of
// the writes and x-bare-commit of all of them in bare commits, journal-%
// their share of the whole settlement (platform exchanges included).
// bare-commit is the baseline on its own.
func BenchmarkJournalPerSettlement(b *testing.B) {
	data := benchPersonas(b, 200)
	cases := []struct {
		name string
		run  func(b *testing.B, svc *agent.Service, i int)
	}{
		{"online", func(b *testing.B, svc *agent.Service, i int) {
			p := &data.People[i%len(data.People)]
			st, _, err := svc.Settle(context.Background(), cardBill(p, fmt.Sprintf("online-%d", i), i, ""))
			if err != nil || st.State != agent.StateSettled {
				b.Fatalf("bill %d: %v %+v; want settled", i, err, st)
			}
		}},
		{"deferred-forwarded", func(b *testing.B, svc *agent.Service, i int) {
			p := &data.People[i%len(data.People)]
			ctx := context.Background()
			st, _, err := svc.Settle(ctx, cardBill(p, fmt.Sprintf("deferred-%d", i), i, agent.ModeForceOffline))
			if err != nil || st.State != agent.StateDeferred {
				b.Fatalf("bill %d: %v %+v; want deferred", i, err, st)
			}
			if st, err = svc.Forward(ctx, st.ID); err != nil || st.State != agent.StateSettled {
				b.Fatalf("bill %d forwarded: %v %+v; want settled", i, err, st)
			}
		}},
	}
	b.Run("bare-commit", func(b *testing.B) {
		c := journaltest.OpenBare(b, b.TempDir())
		for b.Loop() {
			c.Commit(b)
		}
		b.ReportMetric(1, "x-bare-commit")
	})
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			// Small bills over 200 people: no daily limit is reached
			// however many iterations the benchmark asks for.
			s := stacktest.Start(b, stacktest.Options{Personas: data, PayData: benchPayData(b, data), Offline: roomyLimits(1000)})
			meter := &meteredJournal{Journal: s.Journal}
			svc := agent.NewService(agent.ServiceConfig{Journal: meter, Insurance: s.Insurance, Payment: s.Payments, Offline: *roomyLimits(1000)})
			tc.run(b, svc, 1_000_000) // signs in, outside the measure
			c := journaltest.OpenBare(b, s.Dir)
			c.PerCommit(b, 5) // warms the file and the page cache
			meter.reset()
			// The baseline is timed between settlements, so that it sees
			// the same load on a shared machine as they do.
			var bareTime time.Duration
			i := 0
			for b.Loop() {
				tc.run(b, svc, i)
				i++
				b.StopTimer()
				bareTime += c.PerCommit(b, 2)
				b.StartTimer()
			}
			total := b.Elapsed()
			reads, writes := meter.totals()
			spent := reads.spent + writes.spent
			bare := float64(bareTime) // one bare commit per settlement
			b.ReportMetric(float64(writes.n)/float64(b.N), "writes/op")
			b.ReportMetric(float64(reads.n)/float64(b.N), "reads/op")
			b.ReportMetric(float64(writes.spent)/bare, "writes-x-bare-commit")
			b.ReportMetric(float64(spent)/bare, "x-bare-commit")
			b.ReportMetric(100*float64(spent)/float64(total), "journal-%")
		})
	}
}

// meteredJournal counts and times the journal calls a settlement makes:
// the durable writes, and the reads that decode a record or a value.
type meteredJournal struct {
	agent.Journal
	mu            sync.Mutex
	reads, writes journalCalls
}

type journalCalls struct {
	n     int
	spent time.Duration
}

func (m *meteredJournal) done(start time.Time, write bool) {
	d := time.Since(start)
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &m.reads
	if write {
		c = &m.writes
	}
	c.n++
	c.spent += d
}

func (m *meteredJournal) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads, m.writes = journalCalls{}, journalCalls{}
}

func (m *meteredJournal) totals() (reads, writes journalCalls) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads, m.writes
}

func (m *meteredJournal) Accept(ctx context.Context, s *agent.Settlement, prepare func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, bool, error) {
	defer m.done(time.Now(), true)
	return m.Journal.Accept(ctx, s, prepare)
}

func (m *meteredJournal) Update(ctx context.Context, id string, fn func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, error) {
	defer m.done(time.Now(), true)
	return m.Journal.Update(ctx, id, fn)
}

func (m *meteredJournal) AllocateMsgid(ctx context.Context) (string, error) {
	defer m.done(time.Now(), true)
	return m.Journal.AllocateMsgid(ctx)
}

func (m *meteredJournal) SetValue(ctx context.Context, name string, value []byte) error {
	defer m.done(time.Now(), true)
	return m.Journal.SetValue(ctx, name, value)
}

func (m *meteredJournal) Get(ctx context.Context, id string) (*agent.Settlement, error) {
	defer m.done(time.Now(), false)
	return m.Journal.Get(ctx, id)
}

func (m *meteredJournal) ByKey(ctx context.Context, key string) (*agent.Settlement, error) {
	defer m.done(time.Now(), false)
	return m.Journal.ByKey(ctx, key)
}

func (m *meteredJournal) List(ctx context.Context, f agent.ListFilter) ([]*agent.Settlement, error) {
	defer m.done(time.Now(), false)
	return m.Journal.List(ctx, f)
}

func (m *meteredJournal) Value(ctx context.Context, name string) ([]byte, error) {
	defer m.done(time.Now(), false)
	return m.Journal.Value(ctx, name)
}
