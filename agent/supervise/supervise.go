// Package supervise runs the daemon's long-running pieces (the API server,
// device watchers, the forwarder, timers) under one supervisor: each piece
// is a Run(ctx) error; a piece that fails is restarted with backoff unless
// its error is fatal, and when the context ends every piece is given a
// deadline to stop.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
)

// Service is one supervised piece.
type Service struct {
	Name string
	Run  func(ctx context.Context) error
}

// ErrFatal marks an error after which restarting cannot help (a bad
// configuration, a port taken): it stops the whole tree.
var ErrFatal = errors.New("fatal")

// Fatal wraps err as fatal.
func Fatal(err error) error { return fmt.Errorf("%w: %w", ErrFatal, err) }

// Options tune the supervisor.
type Options struct {
	MinBackoff, MaxBackoff time.Duration
	// StopTimeout bounds how long pieces get to stop once ctx ends.
	StopTimeout time.Duration
	Clock       clock.Clock
	Logger      *slog.Logger
}

// Run runs every service until ctx ends or one fails fatally. It returns
// nil after a clean stop, the fatal error, or an error naming the services
// that did not stop in time.
func Run(ctx context.Context, opts Options, services ...Service) error {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	done := make(map[string]chan struct{}, len(services))
	for _, s := range services {
		ch := make(chan struct{})
		done[s.Name] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ch)
			if err := keep(ctx, opts, s); err != nil {
				cancel(err)
			}
		}()
	}
	<-ctx.Done()
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-opts.Clock.After(opts.StopTimeout):
		var stuck []string
		for name, ch := range done {
			select {
			case <-ch:
			default:
				stuck = append(stuck, name)
			}
		}
		return fmt.Errorf("supervise: %v did not stop within %s", stuck, opts.StopTimeout)
	}
	if err := context.Cause(ctx); errors.Is(err, ErrFatal) {
		return err
	}
	return nil
}

// keep runs s until ctx ends, restarting it after non-fatal failures. It
// returns the fatal error, or nil.
func keep(ctx context.Context, opts Options, s Service) error {
	backoff := opts.MinBackoff
	for {
		start := opts.Clock.Now()
		err := run(ctx, s)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrFatal) {
			opts.Logger.Error("service failed fatally", "service", s.Name, "err", err)
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		// A piece that ran a good while before failing starts its backoff
		// afresh: it was a new failure, not a crash loop.
		if opts.Clock.Now().Sub(start) > 10*opts.MaxBackoff {
			backoff = opts.MinBackoff
		}
		opts.Logger.Warn("service stopped; restarting", "service", s.Name, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-opts.Clock.After(backoff):
		}
		backoff = min(backoff*2, opts.MaxBackoff)
	}
}

// run calls s.Run, turning a panic into an error so one piece cannot take
// the daemon down.
func run(ctx context.Context, s Service) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	err = s.Run(ctx)
	if err == nil && ctx.Err() == nil {
		err = errors.New("returned without error before shutdown")
	}
	return err
}
