package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/agent/metrics"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/forward"
)

// statusSource gathers the daemon's status for the API and the metrics,
// from the same reads, so that the two never disagree.
type statusSource struct {
	cfg  config.Config
	j    *journal.Journal
	svc  *agent.Service
	pc   *client.Client
	pay  *payWatch // nil without a payment channel
	fwd  *forward.Forwarder
	desk *agent.Desk
	// started is when this daemon started, for its uptime.
	started time.Time
}

func (s *statusSource) status(ctx context.Context) daemonStatus {
	st := daemonStatus{Status: s.apiStatus(ctx), Payment: &paymentStatus{}}
	if s.pay != nil {
		st.Payment = s.pay.status(s.cfg.Payment.URL)
	}
	return st
}

func (s *statusSource) apiStatus(ctx context.Context) api.Status {
	ps := s.pc.Status()
	st := api.Status{
		Version: version, Terminal: s.cfg.Terminal.ID, Schema: s.j.Schema(),
		StartedAt: s.started, UptimeSeconds: int64(time.Since(s.started).Seconds()),
		Online: ps.Reachable && s.pc.Available(),
		Platform: api.PlatformStatus{URL: s.cfg.Insurance.URL, Reachable: ps.Reachable, LastOK: ps.LastOK,
			LastError: ps.LastError, LastErrorAt: ps.LastErrAt},
		LastError: ps.LastError,
		Forwarder: s.fwd.Stats(),
		States:    map[string]int{},
	}
	if counts, err := s.j.CountStates(ctx); err != nil {
		st.JournalError = err.Error()
	} else {
		for state, n := range counts {
			st.States[string(state)] = n
			switch state {
			case agent.StateAccepted, agent.StateSettling, agent.StateInDoubt, agent.StateReversing, agent.StatePaying, agent.StateRefunding:
				st.Backlog.Unfinished += n
			}
		}
	}
	if b, err := s.svc.Backlog(ctx); err == nil {
		st.Backlog.Count, st.Backlog.AmountFen = b.Count, int64(b.Amount)
		if !b.Oldest.IsZero() {
			st.Backlog.OldestSeconds = int64(time.Since(b.Oldest).Seconds())
			st.Backlog.Oldest = b.Oldest.Format(time.RFC3339)
		}
	}
	if s.desk != nil {
		st.Cards = s.desk.Readers()
	}
	if r, err := s.svc.LastReport(ctx); err == nil {
		st.Reconcile = &api.ReconcileStatus{Date: r.Date, At: r.At, Balanced: r.Balanced, Diffs: len(r.Diffs)}
	}
	return st
}

func (s *statusSource) metrics(ctx context.Context) metrics.Snapshot {
	st := s.status(ctx)
	fs := s.fwd.Stats()
	m := metrics.Snapshot{
		Online: st.Online, BacklogCount: st.Backlog.Count, BacklogAmountFen: st.Backlog.AmountFen,
		BacklogOldest: time.Duration(st.Backlog.OldestSeconds) * time.Second, Unfinished: st.Backlog.Unfinished,
		States: st.States, Forwarded: fs.Forwarded, ForwardFailures: fs.Failed,
	}
	if st.Reconcile != nil {
		b := st.Reconcile.Balanced
		m.ReconcileBalanced = &b
	}
	for _, r := range st.Cards {
		if r.Card != nil {
			m.CardsInserted++
		}
	}
	m.CardsEnabled, m.CardReaders = s.desk != nil, len(st.Cards)
	// Every state has its series, zero when no settlement is in it: an
	// alert on a state must see it go to zero, not vanish.
	m.States = make(map[string]int, len(allStates))
	for _, state := range allStates {
		m.States[string(state)] = st.States[string(state)]
	}
	if st.Payment != nil && st.Payment.Enabled && st.Payment.Reachable != nil {
		up := *st.Payment.Reachable
		m.PaymentOnline = &up
	}
	lim := offlinePolicy(s.cfg.Offline)
	m.LimitBills, m.LimitAmountFen = lim.MaxRecords, int64(lim.MaxTerminalAmount)
	m.JournalOK = st.JournalError == ""
	if free, err := freeBytes(filepath.Dir(s.cfg.Journal.Path)); err == nil {
		m.DiskFreeBytes = free
	}
	return m
}
