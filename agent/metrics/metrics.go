// Package metrics exposes the agent's health to Prometheus: the backlog of
// deferred bills, platform reachability, settlements by state, the
// forwarder's progress, the last reconciliation. Values are read when
// Prometheus scrapes, from the same sources as the status endpoint, so the
// two never disagree.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is the state at one scrape.
type Snapshot struct {
	Online            bool
	BacklogCount      int
	BacklogAmountFen  int64
	BacklogOldest     time.Duration
	Unfinished        int
	States            map[string]int
	Forwarded         int64
	ForwardFailures   int64
	ReconcileBalanced *bool // nil: never reconciled
	CardsInserted     int
}

// Handler serves the metrics, calling snap at every scrape.
func Handler(snap func(ctx context.Context) Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{snap: snap})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

var (
	descOnline     = prometheus.NewDesc("medterm_platform_online", "1 when the platform is reachable.", nil, nil)
	descBacklog    = prometheus.NewDesc("medterm_backlog_bills", "Deferred bills not yet settled.", nil, nil)
	descBacklogFen = prometheus.NewDesc("medterm_backlog_amount_fen", "Total of the deferred bills not yet settled, in fen.", nil, nil)
	descOldest     = prometheus.NewDesc("medterm_backlog_oldest_seconds", "Age of the oldest deferred bill.", nil, nil)
	descUnfinished = prometheus.NewDesc("medterm_unfinished_settlements", "Settlements on their way to an end: accepted or being sent, in doubt, being reversed or refunded.", nil, nil)
	descStates     = prometheus.NewDesc("medterm_settlements", "Settlements in the journal by state.", []string{"state"}, nil)
	descForwarded  = prometheus.NewDesc("medterm_forwarded_total", "Bills the forwarder brought to a final state.", nil, nil)
	descFwdFail    = prometheus.NewDesc("medterm_forward_failures_total", "Forwarding attempts that did not finish.", nil, nil)
	descReconcile  = prometheus.NewDesc("medterm_reconcile_balanced", "1 when the last reconciliation balanced, 0 when it did not.", nil, nil)
	descCards      = prometheus.NewDesc("medterm_cards_inserted", "Social-security cards now in the desk's readers.", nil, nil)
)

type collector struct {
	snap func(ctx context.Context) Snapshot
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOnline, descBacklog, descBacklogFen, descOldest, descUnfinished, descStates, descForwarded, descFwdFail, descReconcile, descCards} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := c.snap(ctx)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descOnline, b2f(s.Online))
	gauge(descBacklog, float64(s.BacklogCount))
	// Prometheus samples are float64 by its exposition format; the fen
	// count is an integer well below 2^53, where float64 is exact. No money
	// is computed here: this is only the wire form of a counted total.
	gauge(descBacklogFen, float64(s.BacklogAmountFen))
	gauge(descOldest, s.BacklogOldest.Seconds())
	gauge(descUnfinished, float64(s.Unfinished))
	for state, n := range s.States {
		gauge(descStates, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(descForwarded, prometheus.CounterValue, float64(s.Forwarded))
	ch <- prometheus.MustNewConstMetric(descFwdFail, prometheus.CounterValue, float64(s.ForwardFailures))
	if s.ReconcileBalanced != nil {
		gauge(descReconcile, b2f(*s.ReconcileBalanced))
	}
	gauge(descCards, float64(s.CardsInserted))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
