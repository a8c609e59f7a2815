package forward_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/forward"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// fakeService holds pending settlements and records the order and
// concurrency of Forward calls.
type fakeService struct {
	mu          sync.Mutex
	pending     []*agent.Settlement
	outcome     map[string]agent.State // default settled
	nextTry     map[string]time.Time   // the NextTry a Forward leaves
	order       []string
	inFlight    int
	maxInFlight int
	gate        chan struct{} // if set, each Forward waits on it
	entered     chan struct{} // if set, told when a Forward starts
	pages       int           // Queue calls
}

// Queue lists the pending bills, which stay pending whatever Forward
// answers: a page after the bill after, as the journal's index would.
func (f *fakeService) Queue(_ context.Context, after string, limit int) ([]agent.Queued, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages++
	list := f.pending
	if after != "" {
		i := slices.IndexFunc(list, func(s *agent.Settlement) bool { return s.ID == after })
		list = list[i+1:]
	}
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	out := make([]agent.Queued, len(list))
	for i, s := range list {
		out[i] = agent.QueueOf(s)
	}
	return out, nil
}

func (f *fakeService) Forward(_ context.Context, id string) (*agent.Settlement, error) {
	f.mu.Lock()
	f.order = append(f.order, id)
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	gate := f.gate
	f.mu.Unlock()
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	st := agent.StateSettled
	if s, ok := f.outcome[id]; ok {
		st = s
	}
	return &agent.Settlement{ID: id, State: st, NextTry: f.nextTry[id]}, nil
}

func deferred(id, patient string, nextTry time.Time) *agent.Settlement {
	return &agent.Settlement{ID: id, PatientRef: patient, State: agent.StateDeferred, NextTry: nextTry, DeferredAt: t0}
}

func TestOnePatientsBillsGoInOrderAndStopAtTheFirstThatCannotSettle(t *testing.T) {
	svc := &fakeService{
		pending: []*agent.Settlement{deferred("a1", "A", time.Time{}), deferred("b1", "B", time.Time{}), deferred("a2", "A", time.Time{}), deferred("a3", "A", time.Time{})},
		outcome: map[string]agent.State{"a2": agent.StateDeferred},
	}
	f := forward.New(svc, nil, forward.Config{Concurrency: 1, Clock: clock.NewFake(t0)})
	f.Pass(context.Background(), false)
	got := fmt.Sprint(svc.order)
	if got != "[a1 a2 b1]" {
		t.Fatalf("forwarded %s; want A's bills in order up to the one that failed, then B", got)
	}
	if s := f.Stats(); s.Forwarded != 2 || s.Failed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPatientsAreForwardedInParallelUpToTheConcurrency(t *testing.T) {
	svc := &fakeService{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	for i := 0; i < 10; i++ {
		svc.pending = append(svc.pending, deferred(fmt.Sprint(i), fmt.Sprint("P", i), time.Time{}))
	}
	f := forward.New(svc, nil, forward.Config{Concurrency: 3, Clock: clock.NewFake(t0)})
	done := make(chan struct{})
	go func() { f.Pass(context.Background(), false); close(done) }()
	for i := 0; i < 3; i++ {
		<-svc.entered // three patients at once before any finishes
	}
	for i := 0; i < 10; i++ {
		svc.gate <- struct{}{}
	}
	<-done
	if svc.maxInFlight != 3 {
		t.Fatalf("at most %d in flight; want exactly the concurrency, 3", svc.maxInFlight)
	}
}

func TestBillsWaitingOutTheirBackoffHoldTheirPatientBackUnlessForced(t *testing.T) {
	later := t0.Add(time.Minute)
	svc := &fakeService{pending: []*agent.Settlement{deferred("a1", "A", later), deferred("a2", "A", time.Time{}), deferred("b1", "B", time.Time{})}}
	f := forward.New(svc, nil, forward.Config{Clock: clock.NewFake(t0)})
	next := f.Pass(context.Background(), false)
	if fmt.Sprint(svc.order) != "[b1]" || !next.Equal(later) {
		t.Fatalf("forwarded %v, next %v; want only B, and a wake-up when A's backoff ends", svc.order, next)
	}
	svc.order = nil
	f.Pass(context.Background(), true)
	if fmt.Sprint(svc.order) != "[a1 a2]" && fmt.Sprint(svc.order) != "[a1 a2 b1]" && fmt.Sprint(svc.order) != "[b1 a1 a2]" {
		t.Fatalf("forced pass forwarded %v; want A's bills in order", svc.order)
	}
}

// A forced pass ("sync now", a start) forwards even a bill whose next try
// is later, which may leave it waiting again (a payment whose outcome the
// channel is queried for on its schedule): the pass still says when to
// wake for it, or Run would sleep its idle interval past it.
func TestAPassWakesForABillItLeftWaiting(t *testing.T) {
	soon, later := t0.Add(time.Second), t0.Add(time.Minute)
	svc := &fakeService{
		pending: []*agent.Settlement{deferred("a1", "A", soon), deferred("b1", "B", later)},
		outcome: map[string]agent.State{"a1": agent.StatePaying, "b1": agent.StateDeferred},
		nextTry: map[string]time.Time{"a1": soon, "b1": later},
	}
	f := forward.New(svc, nil, forward.Config{Clock: clock.NewFake(t0)})
	if next := f.Pass(context.Background(), true); !next.Equal(soon) {
		t.Fatalf("a forced pass returned %v; want a wake-up when a1 is due (%v)", next, soon)
	}
	svc.pending = []*agent.Settlement{deferred("c1", "C", time.Time{})}
	svc.outcome["c1"], svc.nextTry["c1"] = agent.StatePaying, later
	if next := f.Pass(context.Background(), false); !next.Equal(later) {
		t.Fatalf("a pass returned %v; want a wake-up when c1, forwarded and left waiting, is due (%v)", next, later)
	}
}

type down struct{}

func (down) Available() bool { return false }

func TestNothingIsSentWhileTheBreakerIsOpen(t *testing.T) {
	svc := &fakeService{pending: []*agent.Settlement{deferred("a1", "A", time.Time{})}}
	f := forward.New(svc, down{}, forward.Config{Clock: clock.NewFake(t0)})
	f.Pass(context.Background(), false)
	if len(svc.order) != 0 {
		t.Fatalf("forwarded %v while the breaker was open", svc.order)
	}
}

func TestKickWakesRunForAPass(t *testing.T) {
	svc := &fakeService{}
	fc := clock.NewFake(t0)
	f := forward.New(svc, nil, forward.Config{Clock: fc, Idle: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	<-fc.WaiterAdded() // the first pass is done; Run waits
	svc.mu.Lock()
	svc.pending = []*agent.Settlement{deferred("x", "X", time.Time{})}
	svc.mu.Unlock()
	f.Kick()
	<-fc.WaiterAdded() // the second pass is done
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(svc.order) != "[x]" {
		t.Fatalf("forwarded %v after a kick", svc.order)
	}
}

// A backlog longer than a page is read a page at a time, the whole of it
// in one pass; a patient whose bill stops on the first page has none of
// their later bills, on the pages after, forwarded before it.
func TestALongBacklogIsForwardedAPageAtATimeInOrder(t *testing.T) {
	svc := &fakeService{outcome: map[string]agent.State{"x-0": agent.StateDeferred}}
	for i := range 2500 {
		svc.pending = append(svc.pending, deferred(fmt.Sprint("p-", i), fmt.Sprint("P", i), time.Time{}))
		if i%1000 == 0 { // X's bills, one on each page
			svc.pending = append(svc.pending, deferred(fmt.Sprint("x-", i/1000), "X", time.Time{}))
		}
	}
	f := forward.New(svc, nil, forward.Config{Concurrency: 4, Clock: clock.NewFake(t0)})
	f.Pass(context.Background(), false)
	if svc.pages < 3 {
		t.Errorf("the backlog read in %d pages", svc.pages)
	}
	if s := f.Stats(); s.Forwarded != 2500 || s.Failed != 1 {
		t.Errorf("stats %+v; want every other patient's bill forwarded, X's first bill failed", s)
	}
	for _, id := range svc.order {
		if id == "x-1" || id == "x-2" {
			t.Errorf("%s was forwarded while X's first bill waits", id)
		}
	}
}
