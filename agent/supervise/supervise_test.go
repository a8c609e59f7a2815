package supervise_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/supervise"
)

func TestFailingServiceIsRestartedAfterBackoff(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int32
	third := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- supervise.Run(ctx, supervise.Options{Clock: fc, MinBackoff: time.Second}, supervise.Service{
			Name: "flaky",
			Run: func(ctx context.Context) error {
				if runs.Add(1) == 3 {
					close(third)
					<-ctx.Done()
					return nil
				}
				return errors.New("boom")
			},
		})
	}()
	advanceUntil(t, fc, third, 2*time.Second)
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run after clean stop = %v", err)
	}
}

func TestFatalErrorStopsEverything(t *testing.T) {
	other := make(chan struct{})
	err := supervise.Run(context.Background(), supervise.Options{}, supervise.Service{
		Name: "bad-config", Run: func(context.Context) error { return supervise.Fatal(errors.New("port taken")) },
	}, supervise.Service{
		Name: "other", Run: func(ctx context.Context) error { <-ctx.Done(); close(other); return nil },
	})
	if !errors.Is(err, supervise.ErrFatal) {
		t.Fatalf("Run = %v; want the fatal error", err)
	}
	<-other // the other service was stopped too
}

func TestPanicIsRestartedNotFatal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int32
	err := supervise.Run(ctx, supervise.Options{MinBackoff: time.Millisecond}, supervise.Service{
		Name: "panicky", Run: func(ctx context.Context) error {
			if runs.Add(1) == 1 {
				panic("bug")
			}
			cancel()
			return nil
		},
	})
	if err != nil || runs.Load() != 2 {
		t.Fatalf("Run = %v after %d runs; want restart after the panic", err, runs.Load())
	}
}

// advanceUntil moves the fake clock past every timer the code under test
// sets, until done is closed.
func advanceUntil(t *testing.T, fc *clock.Fake, done <-chan struct{}, step time.Duration) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-done:
			return
		case <-deadline:
			t.Fatal("condition not reached")
		case <-fc.WaiterAdded():
			fc.Advance(step)
		}
	}
}
