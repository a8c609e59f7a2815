// Package forward is the forwarder: it sends what the journal holds for
// the platform (deferred bills, settlement requests in doubt, reversals,
// refunds under way) whenever the platform can take them. Bills of one
// patient go in the order they were accepted (the order of the visits),
// because daily limits and deductibles depend on order; different patients go in parallel, a
// bounded number at a time. Every request carries the msgid allocated
// before its first send, so nothing is charged twice however often a
// pass is interrupted.
package forward

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// Service is what the forwarder needs from the core.
type Service interface {
	// Queue lists the work that needs the platform, oldest first: at
	// most limit bills, those accepted after the bill after ("" from the
	// first).
	Queue(ctx context.Context, after string, limit int) ([]agent.Queued, error)
	Forward(ctx context.Context, id string) (*agent.Settlement, error)
}

// Availability tells whether the platform is believed reachable (the
// client's circuit breaker).
type Availability interface{ Available() bool }

// Config tunes the forwarder.
type Config struct {
	Concurrency int           // patients forwarded at once; default 4
	Idle        time.Duration // wake-up interval with nothing to do; default 30 s
	Clock       clock.Clock
	Logger      *slog.Logger
}

// Forwarder drains the journal's pending work to the platform.
type Forwarder struct {
	svc   Service
	avail Availability
	cfg   Config
	kick  chan bool // true: a forced drain that ignores per-bill backoff

	passes, forwarded, failed atomic.Int64
	mu                        sync.Mutex
	lastPass                  time.Time
	lastSettled               time.Time
}

// New returns a forwarder.
func New(svc Service, avail Availability, cfg Config) *Forwarder {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{svc: svc, avail: avail, cfg: cfg, kick: make(chan bool, 1)}
}

// Kick wakes the forwarder for a pass now.
func (f *Forwarder) Kick() { f.signal(false) }

// Drain wakes the forwarder for a pass that also retries bills still
// waiting out their backoff: the window staff's "sync now".
func (f *Forwarder) Drain() { f.signal(true) }

func (f *Forwarder) signal(force bool) {
	select {
	case f.kick <- force:
	default:
		if force { // replace a pending plain kick with a forced one
			select {
			case <-f.kick:
			default:
			}
			select {
			case f.kick <- true:
			default:
			}
		}
	}
}

// Run forwards until ctx ends.
func (f *Forwarder) Run(ctx context.Context) error {
	force := true // after a start, everything left over is due at once
	for {
		next := f.pass(ctx, force)
		wait := f.cfg.Idle
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(f.cfg.Clock.Now()), 100*time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case force = <-f.kick:
		case <-f.cfg.Clock.After(wait):
			force = false
		}
	}
}

// Pass makes one forwarding pass and returns when the earliest bill that
// is waiting out its backoff is due (zero if none).
func (f *Forwarder) Pass(ctx context.Context, force bool) time.Time { return f.pass(ctx, force) }

func (f *Forwarder) pass(ctx context.Context, force bool) time.Time {
	f.passes.Add(1)
	defer func() {
		f.mu.Lock()
		f.lastPass = f.cfg.Clock.Now()
		f.mu.Unlock()
	}()
	if f.avail != nil && !f.avail.Available() {
		if !force {
			return time.Time{} // the breaker will let a probe through after its cool-down
		}
		// Someone asked for a drain now: let the first request through.
		if r, ok := f.avail.(interface{ Retry() }); ok {
			r.Retry()
		}
	}
	// The backlog a page at a time: after a long outage it is the whole
	// journal, and a pass that held it all would hold it for the hours
	// the drain takes. A patient whose bill stops the drain stays held
	// back in the pages after, so that a later bill never overtakes it.
	now := f.cfg.Clock.Now()
	held := map[string]bool{}
	var next time.Time
	var mu sync.Mutex
	wake := func(at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	for after := ""; ctx.Err() == nil; {
		list, err := f.svc.Queue(ctx, after, passPage)
		if err != nil {
			f.cfg.Logger.Error("forwarder: read the journal", "err", err)
			return next
		}
		if len(list) == 0 {
			break
		}
		after = list[len(list)-1].ID
		queues, order, later := group(list, now, force, held)
		wake(later)
		sem := make(chan struct{}, f.cfg.Concurrency)
		var wg sync.WaitGroup
		for _, key := range order {
			wg.Add(1)
			sem <- struct{}{}
			go func(key string, q []agent.Queued) {
				defer wg.Done()
				defer func() { <-sem }()
				// A bill forwarded now may be left waiting again (a payment
				// whose outcome is queried on the channel's schedule, a new
				// backoff): its next try is a wake-up too, or a forced pass,
				// which leaves no bill out, would leave Run idle past it.
				later, stopped := f.drain(ctx, q)
				wake(later)
				if stopped {
					mu.Lock()
					held[key] = true
					mu.Unlock()
				}
			}(key, queues[key])
		}
		wg.Wait()
		if len(list) < passPage {
			break
		}
	}
	return next
}

// passPage is how many bills a pass reads from the journal at a time: a
// few hundred kilobytes in memory, and 16 patients' bills at a time
// keep sixty rounds of them busy.
const passPage = 1000

// drain forwards one patient's queue in order and stops at the first bill
// that could not be settled now, so that a later bill never overtakes it.
// It returns when that bill is to be tried again, if it said, and whether
// it stopped.
func (f *Forwarder) drain(ctx context.Context, q []agent.Queued) (time.Time, bool) {
	for _, s := range q {
		if ctx.Err() != nil {
			return time.Time{}, true
		}
		st, err := f.svc.Forward(ctx, s.ID)
		if err != nil {
			f.failed.Add(1)
			f.cfg.Logger.Warn("forwarder: not forwarded", "id", s.ID, "err", err)
			return time.Time{}, true
		}
		switch st.State {
		case agent.StateSettled, agent.StateArrears, agent.StateRefunded, agent.StateVoided, agent.StateDeclined:
			f.forwarded.Add(1)
			f.mu.Lock()
			f.lastSettled = f.cfg.Clock.Now()
			f.mu.Unlock()
		case agent.StateFailed:
			// A reversed online attempt waits for its caller; it does not
			// hold the patient's other bills back.
		default:
			f.failed.Add(1)
			return st.NextTry, true
		}
	}
	return time.Time{}, false
}

// group splits the pending work into per-patient queues, oldest first,
// leaving out bills still waiting out their backoff unless forced, and
// the bills of the patients blocked: held back earlier in the pass, or by
// a bill of theirs left out here (which group adds to blocked). It
// returns the queues, their keys in the order of their oldest bill, and
// the earliest backoff end among the bills left out.
func group(list []agent.Queued, now time.Time, force bool, blocked map[string]bool) (map[string][]agent.Queued, []string, time.Time) {
	queues := map[string][]agent.Queued{}
	var order []string
	var next time.Time
	for _, s := range list { // oldest first
		key := s.PatientRef
		if key == "" || s.State == agent.StateRefunding {
			key = "id:" + s.ID // refunds and unkeyed bills hold nobody back
		}
		if blocked[key] {
			continue
		}
		if !force && s.NextTry.After(now) {
			blocked[key] = true // its later bills wait behind it
			if next.IsZero() || s.NextTry.Before(next) {
				next = s.NextTry
			}
			continue
		}
		if _, ok := queues[key]; !ok {
			order = append(order, key)
		}
		queues[key] = append(queues[key], s)
	}
	return queues, order, next
}

// Stats is what the forwarder has done since start.
type Stats struct {
	Passes      int64     `json:"passes"`
	Forwarded   int64     `json:"forwarded"`
	Failed      int64     `json:"failed"`
	LastPass    time.Time `json:"last_pass,omitzero"`
	LastSettled time.Time `json:"last_settled,omitzero"`
}

// Stats returns the counters.
func (f *Forwarder) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{Passes: f.passes.Load(), Forwarded: f.forwarded.Load(), Failed: f.failed.Load(), LastPass: f.lastPass, LastSettled: f.lastSettled}
}
