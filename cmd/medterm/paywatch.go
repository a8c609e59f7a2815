package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
)

// payWatch is the payment channel as the daemon uses it, remembering
// whether the channel answered its last exchange: the status shows it, as
// it shows the insurance platform's, so that window staff can tell why
// patients' parts wait. Every call goes through unchanged.
type payWatch struct {
	agent.PaymentChannel
	clock clock.Clock

	mu        sync.Mutex
	seen      bool // any exchange yet
	reachable bool
	lastOK    time.Time
	lastErr   string
	lastErrAt time.Time
}

func newPayWatch(ch agent.PaymentChannel, clk clock.Clock) *payWatch {
	return &payWatch{PaymentChannel: ch, clock: clk}
}

// note records how an exchange ended. Only a request that got no answer
// (unreachable, or its answer lost) says the channel is away: a refusal,
// a patient without an agreement, even an answer that failed its checks,
// came from a channel that answered.
func (w *payWatch) note(err error) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = true
	if err != nil && (errors.Is(err, agent.ErrUnreachable) || errors.Is(err, agent.ErrInDoubt)) {
		w.reachable, w.lastErr, w.lastErrAt = false, err.Error(), now
		return
	}
	w.reachable, w.lastOK = true, now
}

// status is the channel's part of the daemon's status.
func (w *payWatch) status(url string) *paymentStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := &paymentStatus{Enabled: true, URL: url, LastOK: w.lastOK, LastError: w.lastErr, LastErrorAt: w.lastErrAt}
	if w.seen {
		st.Reachable = &w.reachable
	}
	return st
}

func (w *payWatch) Agreement(ctx context.Context, q agent.AgreementQuery) (agent.Agreement, error) {
	a, err := w.PaymentChannel.Agreement(ctx, q)
	w.note(err)
	return a, err
}

func (w *payWatch) Sign(ctx context.Context, r agent.SignRequest) (agent.Agreement, error) {
	a, err := w.PaymentChannel.Sign(ctx, r)
	w.note(err)
	return a, err
}

func (w *payWatch) SetLimits(ctx context.Context, r agent.LimitsRequest) (agent.Agreement, error) {
	a, err := w.PaymentChannel.SetLimits(ctx, r)
	w.note(err)
	return a, err
}

func (w *payWatch) CancelAgreement(ctx context.Context, r agent.AgreementRef) error {
	err := w.PaymentChannel.CancelAgreement(ctx, r)
	w.note(err)
	return err
}

func (w *payWatch) Pay(ctx context.Context, o agent.PayOrder) (agent.PayOutcome, error) {
	out, err := w.PaymentChannel.Pay(ctx, o)
	w.note(err)
	return out, err
}

func (w *payWatch) Query(ctx context.Context, o agent.OrderRef) (agent.PayOutcome, error) {
	out, err := w.PaymentChannel.Query(ctx, o)
	w.note(err)
	return out, err
}

func (w *payWatch) CancelPayment(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	out, err := w.PaymentChannel.CancelPayment(ctx, r)
	w.note(err)
	return out, err
}

func (w *payWatch) RefundPayment(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	out, err := w.PaymentChannel.RefundPayment(ctx, r)
	w.note(err)
	return out, err
}

func (w *payWatch) Statement(ctx context.Context, day time.Time) ([]agent.StatementEntry, error) {
	out, err := w.PaymentChannel.Statement(ctx, day)
	w.note(err)
	return out, err
}

// daemonStatus is GET /v1/status: the API's status and, beside the
// insurance platform's reachability, the payment channel's.
type daemonStatus struct {
	api.Status
	Payment *paymentStatus `json:"payment,omitempty"`
}

// paymentStatus is what the daemon last learnt about the payment channel.
// Reachable is absent until the first exchange: a channel nobody has
// called yet is neither up nor down.
type paymentStatus struct {
	Enabled     bool      `json:"enabled"`
	URL         string    `json:"url,omitempty"`
	Reachable   *bool     `json:"reachable,omitempty"`
	LastOK      time.Time `json:"last_ok,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}
