package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
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
	// Payments is the payment channel's side, when there is one.
	Payments *PaymentTotals `json:"payments,omitempty"`
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
	Kind         string         `json:"kind"`
	Msgid        string         `json:"msgid,omitempty"`
	SetlID       string         `json:"setl_id,omitempty"`
	SettlementID string         `json:"settlement_id,omitempty"` // this terminal's record, if any
	Local        *ReconcileItem `json:"local,omitempty"`
	Platform     *ReconcileItem `json:"platform,omitempty"`
	Remedy       string         `json:"remedy"`
}

// ReconcileItem is one settlement's amounts, as one side has them.
type ReconcileItem struct {
	Msgid   string    `json:"msgid,omitempty"`
	SetlID  string    `json:"setl_id,omitempty"`
	Total   money.Fen `json:"total_fen"`
	Fund    money.Fen `json:"fund_fen"`
	Account money.Fen `json:"account_fen"`
	Cash    money.Fen `json:"cash_fen,omitempty"`
}

// Kinds of differences.
const (
	// DiffMissingLocal: the platform (or the channel) has what this
	// terminal does not.
	DiffMissingLocal = "missing_local"
	// DiffMissingPlatform: this terminal has what the platform (or the
	// channel) does not.
	DiffMissingPlatform = "missing_platform"
	DiffAmountMismatch  = "amount_mismatch"
	// The same, on the payment channel's ledger.
	DiffPaymentMissingLocal   = "payment_missing_local"
	DiffPaymentMissingChannel = "payment_missing_channel"
	DiffPaymentAmount         = "payment_amount_mismatch"
)

// lastReportValue is the journal value holding the last report.
const lastReportValue = "reconcile:last"

// Reconcile compares the settlements of day (CST) with both counterparties:
// with the insurance platform, totals first (3201) per insurance type and
// the detail (9101, 3202, 9102) of every type whose totals differ; with
// the payment channel, its statement of the day against every order this
// terminal has.
func (s *Service) Reconcile(ctx context.Context, day time.Time) (Report, error) {
	date := formatDate(day)
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
	types := []string{InsutypeEmployee, InsutypeResident}
	for t := range byType {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	from := dayStart(day)
	for _, insutype := range types {
		list := byType[insutype]
		tot := ReportTotals{Insutype: insutype, Count: int64(len(list))}
		for _, st := range list {
			tot.Total += st.Split.Total
			tot.Fund += st.Split.Fund
			tot.Account += st.Split.Account
		}
		x, err := s.ownExchange(ctx)
		if err != nil {
			return rep, err
		}
		res, err := s.insurance.ReconcileTotals(ctx, TotalsRequest{Exchange: x, Insutype: insutype, ClearingType: clearingType(list),
			ClearingRegion: clearingRegion(list), From: from, To: from, Total: tot.Total, Fund: tot.Fund, Account: tot.Account,
			Count: int(tot.Count)})
		if err != nil {
			return rep, fmt.Errorf("reconcile %s totals: %w", insutype, err)
		}
		tot.Balanced = res.Balanced()
		if !tot.Balanced {
			rep.Balanced = false
			tot.Platform = res.Description
			diffs, err := s.reconcileDetail(ctx, from, list, all)
			if err != nil {
				return rep, err
			}
			rep.Diffs = append(rep.Diffs, diffs...)
		}
		rep.Totals = append(rep.Totals, tot)
	}
	if s.payment != nil {
		pt, diffs, err := s.reconcilePayments(ctx, day, all)
		if err != nil {
			return rep, err
		}
		rep.Payments = &pt
		if len(diffs) > 0 {
			rep.Balanced = false
			rep.Diffs = append(rep.Diffs, diffs...)
		}
	}
	if raw, err := json.Marshal(rep); err == nil {
		if err := s.journal.SetValue(ctx, lastReportValue, raw); err != nil {
			s.log.Warn("reconcile: keep the report", "err", err)
		}
	}
	s.log.Info("reconciled", "date", date, "balanced", rep.Balanced, "diffs", len(rep.Diffs), "unsettled", rep.Unsettled)
	return rep, nil
}

func dayStart(t time.Time) time.Time {
	t = t.In(CST)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, CST)
}

// clearingType and clearingRegion are what the day's settlements were
// cleared under, as the platform told (outpatient, the institution's
// region, when none says).
func clearingType(list []*Settlement) string {
	for _, st := range list {
		if st.Clearing.Type != "" {
			return st.Clearing.Type
		}
	}
	return "11"
}

func clearingRegion(list []*Settlement) string {
	for _, st := range list {
		if st.Clearing.Region != "" {
			return st.Clearing.Region
		}
	}
	return ""
}

// activeOn reports whether st counts in date's totals: booked on that day
// (the platform's settlement time) and not cancelled.
func activeOn(st *Settlement, date string) bool {
	switch st.State {
	case StateSettled, StatePaying, StateRefunding:
	default:
		return false
	}
	return strings.HasPrefix(st.SetlTime, date)
}

func itemOf(st *Settlement) *ReconcileItem {
	return &ReconcileItem{Msgid: st.Msgids[StepSettle], SetlID: st.SetlID,
		Total: st.Split.Total, Fund: st.Split.Fund, Account: st.Split.Account, Cash: st.Split.Cash}
}

func (s *Service) reconcileDetail(ctx context.Context, day time.Time, list, all []*Settlement) ([]ReportDiff, error) {
	req := DetailRequest{ClearingType: clearingType(list), ClearingRegion: clearingRegion(list), From: day, To: day, Count: len(list)}
	for _, x := range []*Exchange{&req.Upload, &req.Compare, &req.Download} {
		var err error
		if *x, err = s.ownExchange(ctx); err != nil {
			return nil, err
		}
	}
	for _, st := range list {
		req.Total += st.Split.Total
		req.Fund += st.Split.Fund
		req.Cash += st.Split.Cash
		req.Lines = append(req.Lines, DetailLine{SetlID: st.SetlID, MdtrtID: st.MdtrtID, PsnNo: st.Personal.PsnNo,
			Total: st.Split.Total, Fund: st.Split.Fund, Account: st.Split.Account})
	}
	results, err := s.insurance.ReconcileDetail(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("reconcile detail: %w", err)
	}
	var out []ReportDiff
	for _, d := range results {
		kind := ""
		switch d.Result {
		case TotalsBalanced:
			continue
		case TotalsPlatformMore:
			kind = DiffMissingLocal
		case TotalsInstitutionMore:
			kind = DiffMissingPlatform
		default:
			kind = DiffAmountMismatch
		}
		local := findLocal(all, d)
		rd := ReportDiff{Kind: kind, Msgid: d.Msgid, SetlID: d.SetlID,
			Platform: &ReconcileItem{Msgid: d.Msgid, SetlID: d.SetlID, Total: d.Total, Fund: d.Fund, Account: d.Account}}
		if local != nil {
			rd.SettlementID, rd.Local = local.ID, itemOf(local)
		}
		rd.Remedy = remedy(kind, local, d.Msgid)
		out = append(out, rd)
	}
	return out, nil
}

// findLocal finds this terminal's record of a platform's line: by the
// settlement id, else by any msgid it was sent under.
func findLocal(all []*Settlement, d DetailResult) *Settlement {
	for _, st := range all {
		if d.SetlID != "" && st.SetlID == d.SetlID {
			return st
		}
		if d.Msgid != "" && (st.Msgids[StepSettle] == d.Msgid || slices.Contains(st.PriorMsgids, d.Msgid)) {
			return st
		}
	}
	return nil
}

// remedy says what to do about one difference, from what the journal
// knows of it.
func remedy(kind string, local *Settlement, msgid string) string {
	switch kind {
	case DiffMissingLocal:
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
	case DiffMissingPlatform:
		return "this terminal recorded the bill as settled, but the platform has no active settlement of it: ask the platform whether it was cancelled elsewhere; if not, the bill must be settled again"
	case DiffAmountMismatch:
		return "the amounts differ: the platform's are authoritative; print the corrected receipt and tell the patient of any difference"
	case DiffPaymentMissingLocal:
		return "the payment channel took money for an order this terminal does not know as paid: if the bill's part is pending or was collected at the window, refund the channel's payment"
	case DiffPaymentMissingChannel:
		return "this terminal recorded the patient's part as paid, but the channel's statement does not have it: the part was not taken; collect it (kiosk or window)"
	case DiffPaymentAmount:
		return "the channel took another amount than this terminal recorded: the channel's statement is authoritative; refund or collect the difference"
	}
	return "unknown difference: contact the platform"
}

// reconcilePayments compares the payment channel's statement of day with
// every order this terminal sent that day.
func (s *Service) reconcilePayments(ctx context.Context, day time.Time, all []*Settlement) (PaymentTotals, []ReportDiff, error) {
	var pt PaymentTotals
	entries, err := s.payment.Statement(ctx, day)
	if err != nil {
		return pt, nil, fmt.Errorf("reconcile payments: statement: %w", err)
	}
	date := formatDate(day)
	type local struct {
		st *Settlement
		o  PayOrderRecord
	}
	mine := map[string]local{}
	for _, st := range all {
		for _, o := range st.Pay.Orders {
			if o.Status == OrderSucceeded && formatDate(o.TxnTime) == date {
				mine[o.OrderID] = local{st, o}
				signed := o.Amount
				if o.Kind != OrderPay {
					signed = -signed
				}
				pt.Count++
				pt.Amount += signed
			}
		}
	}
	var diffs []ReportDiff
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.OrderID] = true
		l, ok := mine[e.OrderID]
		switch {
		case !ok:
			diffs = append(diffs, ReportDiff{Kind: DiffPaymentMissingLocal, Msgid: e.OrderID, Remedy: remedy(DiffPaymentMissingLocal, nil, e.OrderID),
				Platform: &ReconcileItem{Msgid: e.OrderID, Cash: e.Amount}})
		case l.o.Amount != e.Amount:
			diffs = append(diffs, ReportDiff{Kind: DiffPaymentAmount, Msgid: e.OrderID, SettlementID: l.st.ID, Remedy: remedy(DiffPaymentAmount, l.st, e.OrderID),
				Local: &ReconcileItem{Msgid: e.OrderID, Cash: l.o.Amount}, Platform: &ReconcileItem{Msgid: e.OrderID, Cash: e.Amount}})
		}
		pt.ChannelCount++
	}
	for id, l := range mine {
		if !seen[id] {
			diffs = append(diffs, ReportDiff{Kind: DiffPaymentMissingChannel, Msgid: id, SettlementID: l.st.ID, Remedy: remedy(DiffPaymentMissingChannel, l.st, id),
				Local: &ReconcileItem{Msgid: id, Cash: l.o.Amount}})
		}
	}
	slices.SortFunc(diffs, func(a, b ReportDiff) int { return strings.Compare(a.Msgid, b.Msgid) })
	pt.Balanced = len(diffs) == 0
	return pt, diffs, nil
}

// PaymentTotals is the day's payments as this terminal has them, and
// whether the channel's statement agrees.
type PaymentTotals struct {
	Count        int       `json:"count"`
	Amount       money.Fen `json:"amount_fen"` // payments less returns
	ChannelCount int       `json:"channel_count"`
	Balanced     bool      `json:"balanced"`
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
		now := r.svc.clock.Now().In(CST)
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, CST)
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
			r.svc.log.Error("daily reconciliation failed", "date", formatDate(day), "err", err)
		}
	}
}
