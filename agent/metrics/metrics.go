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
	Online bool
	// PaymentOnline is the payment channel's reachability; nil without a
	// channel.
	PaymentOnline     *bool
	BacklogCount      int
	BacklogAmountFen  int64
	BacklogOldest     time.Duration
	Unfinished        int
	States            map[string]int
	Forwarded         int64
	ForwardFailures   int64
	ReconcileBalanced *bool // nil: never reconciled
	CardsInserted     int
	// CardsEnabled: this terminal reads cards ([cards] enabled);
	// CardReaders is how many patients' readers its desk sees.
	CardsEnabled bool
	CardReaders  int
	// The offline limits the backlog is held to, for "near a limit".
	LimitBills     int
	LimitAmountFen int64
	// JournalOK is false when the journal could not be read at this
	// scrape; DiskFreeBytes is the room left on the journal's disk.
	JournalOK     bool
	DiskFreeBytes uint64
}

// Fleet labels every metric of a terminal, so that one Prometheus
// watches hundreds: the institution (its code) and the terminal (its id).
type Fleet struct {
	Institution, Terminal string
}

// Handler serves the metrics, calling snap at every scrape; every metric,
// the Go runtime's and the process's included, carries the fleet labels.
func Handler(f Fleet, snap func(ctx context.Context) Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	labelled := prometheus.WrapRegistererWith(prometheus.Labels{"institution": f.Institution, "terminal": f.Terminal}, reg)
	labelled.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{snap: snap})
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
	descReaders    = prometheus.NewDesc("medterm_card_readers", "Patients' card readers the desk sees.", nil, nil)
	descCardsOn    = prometheus.NewDesc("medterm_cards_enabled", "1 when this terminal reads social-security cards ([cards] enabled).", nil, nil)
	descPayOnline  = prometheus.NewDesc("medterm_payment_online", "1 when the payment channel answered its last exchange.", nil, nil)
	descLimitBills = prometheus.NewDesc("medterm_backlog_limit_bills", "The most deferred bills this terminal may hold ([offline] max_records).", nil, nil)
	descLimitFen   = prometheus.NewDesc("medterm_backlog_limit_amount_fen", "The most this terminal may defer in all, in fen ([offline] max_terminal_amount).", nil, nil)
	descJournalOK  = prometheus.NewDesc("medterm_journal_ok", "1 when the journal could be read at this scrape.", nil, nil)
	descDiskFree   = prometheus.NewDesc("medterm_disk_free_bytes", "Room left on the journal's disk.", nil, nil)
)

type collector struct {
	snap func(ctx context.Context) Snapshot
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOnline, descBacklog, descBacklogFen, descOldest, descUnfinished, descStates, descForwarded, descFwdFail, descReconcile, descCards,
		descReaders, descCardsOn, descPayOnline, descLimitBills, descLimitFen, descJournalOK, descDiskFree} {
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
	gauge(descCardsOn, b2f(s.CardsEnabled))
	gauge(descReaders, float64(s.CardReaders))
	if s.PaymentOnline != nil {
		gauge(descPayOnline, b2f(*s.PaymentOnline))
	}
	gauge(descLimitBills, float64(s.LimitBills))
	gauge(descLimitFen, float64(s.LimitAmountFen)) // the same wire form of a fen count as above
	gauge(descJournalOK, b2f(s.JournalOK))
	gauge(descDiskFree, float64(s.DiskFreeBytes))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
