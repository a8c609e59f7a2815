package agent

import (
	"context"
	"log/slog"
	"time"
)

// Recovery resolves settlements that a crash or a lost answer left
// unfinished: a settlement request that may have been sent (settling, in
// doubt) or a refund under way is resent under its msgid until the
// platform answers. It never starts anything new: a bill that failed
// before reaching the platform waits for its caller to submit it again.
type Recovery struct {
	svc      *Service
	log      *slog.Logger
	interval time.Duration
}

// NewRecovery returns the recovery loop for svc.
func NewRecovery(svc *Service, log *slog.Logger) *Recovery {
	return &Recovery{svc: svc, log: log, interval: time.Minute}
}

// Run resolves unfinished settlements at start and then every interval.
func (r *Recovery) Run(ctx context.Context) error {
	for {
		r.Once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-r.svc.clock.After(r.interval):
		}
	}
}

// Once makes one pass.
func (r *Recovery) Once(ctx context.Context) {
	list, err := r.svc.journal.List(ctx, ListFilter{States: []State{StateSettling, StateInDoubt, StateRefunding}})
	if err != nil {
		r.log.Error("recovery: list unfinished settlements", "err", err)
		return
	}
	for _, st := range list {
		if ctx.Err() != nil {
			return
		}
		var err error
		if st.State == StateRefunding {
			_, err = r.svc.Refund(ctx, RefundRequest{ID: st.ID, Operator: st.Refund.Operator, Reason: st.Refund.Reason})
		} else {
			_, err = r.svc.Resume(ctx, st.ID)
		}
		if err != nil {
			r.log.Warn("recovery: not resolved yet", "id", st.ID, "state", st.State, "err", err)
		}
	}
}
