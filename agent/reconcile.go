package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Report is one day's reconciliation of this terminal's journal with the
// platform: totals per insurance type, and when they differ, every
// difference with what to do about it.
type Report struct {
	Date     string         `json:"date"` // yyyy-MM-dd, CST
	At       time.Time      `json:"at"`
	Balanced bool           `json:"balanced"`
	Totals   []ReportTotals `json:"totals"`
	Diffs    []ReportDiff   `json:"diffs"`
	// Unsettled counts the bills still deferred, in doubt or being
	// reversed (of any day): they are not in any totals yet.
	Unsettled int `json:"unsettled"`
}

// ReportTotals is one insurance type's totals as this terminal has them.
type ReportTotals struct {
	Insutype string    `json:"insutype"`
	Count    int64     `json:"count"`
	Total    money.Fen `json:"total_fen"`
	Fund     money.Fen `json:"fund_fen"`
	Account  money.Fen `json:"account_fen"`
	Balanced bool      `json:"balanced"`
	Platform string    `json:"platform,omitempty"` // the platform's description when they differ
}

// ReportDiff is one difference and its remedy.
type ReportDiff struct {
	Kind         string                  `json:"kind"`
	Msgid        string                  `json:"msgid"`
	SetlID       string                  `json:"setl_id"`
	SettlementID string                  `json:"settlement_id,omitempty"` // this terminal's record, if any
	Local        *protocol.ReconcileItem `json:"local,omitempty"`
	Platform     *protocol.ReconcileItem `json:"platform,omitempty"`
	Remedy       string                  `json:"remedy"`
}

// lastReportValue is the journal value holding the last report.
const lastReportValue = "reconcile:last"

// Reconcile compares the settlements of day (CST) with the platform:
// totals first (3201) per insurance type, and the detail (3202) of every
// type whose totals differ.
func (s *Service) Reconcile(ctx context.Context, day time.Time) (Report, error) {
	date := protocol.FormatDate(day)
	rep := Report{Date: date, At: s.clock.Now(), Balanced: true}
	all, err := s.journal.List(ctx, ListFilter{})
	if err != nil {
		return rep, fmt.Errorf("reconcile: read the journal: %w", err)
	}
	byType := map[string][]*Settlement{}
	for _, st := range all {
		switch {
		case activeOn(st, date):
			byType[st.Insutype] = append(byType[st.Insutype], st)
		case inBacklog(st) || st.State == StateInDoubt || st.State == StateReversing:
			rep.Unsettled++
		}
	}
	types := []string{protocol.InsutypeEmployee, protocol.InsutypeResident}
	for t := range byType {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	for _, insutype := range types {
		list := byType[insutype]
		tot := ReportTotals{Insutype: insutype, Count: int64(len(list))}
		for _, st := range list {
			tot.Total += st.Split.Total
			tot.Fund += st.Split.Fund
			tot.Account += st.Split.Account
		}
		res, err := sendOwnTx(ctx, s, protocol.ReconcileTotals, protocol.ReconcileInput{Data: protocol.ReconcileData{
			DevNo: s.header.TerminalID, Insutype: insutype, ClrType: "11", StmtBegndate: date, StmtEnddate: date,
			MedfeeSumamt: protocol.Amount(tot.Total), FundPaySumamt: protocol.Amount(tot.Fund), AcctPay: protocol.Amount(tot.Account),
			FixmedinsSetlCnt: tot.Count,
		}})
		if err != nil {
			return rep, fmt.Errorf("reconcile %s totals: %w", insutype, err)
		}
		tot.Balanced = res.Stmtinfo.StmtRslt == protocol.StmtBalanced
		if !tot.Balanced {
			rep.Balanced = false
			tot.Platform = res.Stmtinfo.StmtRsltDscr
			diffs, err := s.reconcileDetail(ctx, date, insutype, list, all)
			if err != nil {
				return rep, err
			}
			rep.Diffs = append(rep.Diffs, diffs...)
		}
		rep.Totals = append(rep.Totals, tot)
	}
	if raw, err := json.Marshal(rep); err == nil {
		if err := s.journal.SetValue(ctx, lastReportValue, raw); err != nil {
			s.log.Warn("reconcile: keep the report", "err", err)
		}
	}
	s.log.Info("reconciled", "date", date, "balanced", rep.Balanced, "diffs", len(rep.Diffs), "unsettled", rep.Unsettled)
	return rep, nil
}

// activeOn reports whether st counts in date's totals: booked on that day
// (the platform's settlement time) and not cancelled.
func activeOn(st *Settlement, date string) bool {
	switch st.State {
	case StateSettled, StateRefunding:
	default:
		return false
	}
	return strings.HasPrefix(st.SetlTime, date)
}

func itemOf(st *Settlement) *protocol.ReconcileItem {
	return &protocol.ReconcileItem{
		Msgid: st.Msgids[protocol.Settle.Infno], SetlID: st.SetlID,
		MedfeeSumamt: protocol.Amount(st.Split.Total), FundPaySumamt: protocol.Amount(st.Split.Fund),
		AcctPay: protocol.Amount(st.Split.Account), PsnCashPay: protocol.Amount(st.Split.SelfPay),
	}
}

func (s *Service) reconcileDetail(ctx context.Context, date, insutype string, list, all []*Settlement) ([]ReportDiff, error) {
	in := protocol.ReconcileDetailInput{Data: protocol.ReconcileDetailQuery{DevNo: s.header.TerminalID, Insutype: insutype, StmtBegndate: date, StmtEnddate: date}}
	for _, st := range list {
		in.Detail = append(in.Detail, *itemOf(st))
	}
	res, err := sendOwnTx(ctx, s, protocol.ReconcileDetail, in)
	if err != nil {
		return nil, fmt.Errorf("reconcile %s detail: %w", insutype, err)
	}
	var out []ReportDiff
	for _, d := range res.Diffs {
		rd := ReportDiff{Kind: d.Kind, Msgid: d.Msgid, SetlID: d.SetlID, Local: d.Local, Platform: d.Platform}
		local := findByMsgid(all, d.Msgid)
		if local != nil {
			rd.SettlementID = local.ID
		}
		rd.Remedy = remedy(d.Kind, local, d.Msgid)
		out = append(out, rd)
	}
	return out, nil
}

func findByMsgid(all []*Settlement, msgid string) *Settlement {
	for _, st := range all {
		if st.Msgids[protocol.Settle.Infno] == msgid || slices.Contains(st.PriorMsgids, msgid) {
			return st
		}
	}
	return nil
}

// remedy says what to do about one difference, from what the journal
// knows of it.
func remedy(kind string, local *Settlement, msgid string) string {
	switch kind {
	case protocol.DiffMissingLocal:
		switch {
		case local == nil:
			return "the platform booked a settlement this terminal has no record of: check its msgid with the platform; if it is not a real bill, reverse it (2601)"
		case slices.Contains(local.PriorMsgids, msgid):
			return fmt.Sprintf("an earlier attempt of %s that this terminal reversed is still booked: the reversal was not applied; send the reversal again or ask the platform to cancel it", local.ID)
		case local.State == StateInDoubt || local.State == StateReversing || local.State == StateSettling:
			return fmt.Sprintf("%s is in doubt here: the forwarder resends it until the platform answers (medterm sync now), then this difference disappears", local.ID)
		case local.State == StateRefunded:
			return fmt.Sprintf("%s was refunded here but the platform still has it: repeat the refund (medterm refund %s)", local.ID, local.ID)
		default:
			return fmt.Sprintf("%s is %s here although the platform booked it on this day: check the settlement date, then record it", local.ID, local.State)
		}
	case protocol.DiffMissingPlatform:
		return "this terminal recorded the bill as settled, but the platform has no active settlement under its msgid: ask the platform whether it was cancelled elsewhere; if not, the bill must be settled again"
	case protocol.DiffAmountMismatch:
		return "the amounts differ: the platform's are authoritative; print the corrected receipt and tell the patient of any difference"
	}
	return "unknown difference: contact the platform"
}

// LastReport returns the last reconciliation report kept in the journal.
func (s *Service) LastReport(ctx context.Context) (Report, error) {
	var r Report
	raw, err := s.journal.Value(ctx, lastReportValue)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(raw, &r)
}

// sendOwnTx sends a transaction that belongs to no settlement, under a msgid
// allocated for it.
func sendOwnTx[I, O any](ctx context.Context, s *Service, tx protocol.Tx[I, O], in I) (O, error) {
	var zero O
	msgid, err := s.journal.AllocateMsgid(ctx)
	if err != nil {
		return zero, err
	}
	return send(ctx, s.platform, tx, msgid, "", Operator{ID: s.header.TerminalID, Name: s.header.TerminalID, Type: protocol.OpterKiosk}, in)
}

// Reconciler reconciles, at a configured time of day (CST), the day
// before: a whole day, settled and forwarded, by the time it runs.
type Reconciler struct {
	svc *Service
	at  time.Duration // since midnight
}

// NewReconciler returns a reconciler running daily at hh:mm.
func NewReconciler(svc *Service, hhmm string) (*Reconciler, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return nil, fmt.Errorf("%w: reconcile time %q must be hh:mm", ErrInvalid, hhmm)
	}
	return &Reconciler{svc: svc, at: time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute}, nil
}

// Run waits for each day's reconciliation time and reconciles the day
// before it.
// A failed run is retried on the next day only; the window staff can run
// it again at once (medterm reconcile).
func (r *Reconciler) Run(ctx context.Context) error {
	for {
		now := r.svc.clock.Now().In(protocol.CST)
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, protocol.CST)
		next := midnight.Add(r.at)
		if !next.After(now) {
			next = next.AddDate(0, 0, 1)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.svc.clock.After(next.Sub(now)):
		}
		day := next.AddDate(0, 0, -1)
		if _, err := r.svc.Reconcile(ctx, day); err != nil {
			r.svc.log.Error("daily reconciliation failed", "date", protocol.FormatDate(day), "err", err)
		}
	}
}
