package agent

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// Identity kinds the offline limits can trust.
const (
	TrustCard     = "card"      // read from the social-security card
	TrustQRSigned = "qr_signed" // a signed QR code verified offline
	TrustIDNumber = "id_number" // typed by window staff
	TrustQROpaque = "qr_opaque" // a national-style code nobody can check offline
)

// OfflinePolicy is the hospital's risk limit for deferred bills: a bill is
// deferred only if every limit holds. The hospital carries the risk that
// a deferred bill is declined later, so the limits are its to set.
type OfflinePolicy struct {
	Enabled             bool
	MaxBill             money.Fen     // one deferred bill
	MaxPerPatientCount  int           // deferred bills per patient
	MaxPerPatientAmount money.Fen     // their total
	MaxTerminalAmount   money.Fen     // everything deferred on this terminal
	MaxRecords          int           // deferred records on this terminal
	MaxAge              time.Duration // past it, no new bill is deferred
	Trust               []string      // identity kinds accepted offline
	// EstimateInsutype is the insurance type assumed for an estimated
	// split when the patient's is unknown offline.
	EstimateInsutype string
}

// DefaultOfflinePolicy is the defaults of the limits table in
// offline/README.md.
func DefaultOfflinePolicy() OfflinePolicy {
	return OfflinePolicy{
		Enabled: true, MaxBill: money.CNY(500), MaxPerPatientCount: 3, MaxPerPatientAmount: money.CNY(1000),
		MaxTerminalAmount: money.CNY(20000), MaxRecords: 500, MaxAge: 72 * time.Hour,
		Trust: []string{TrustCard, TrustQRSigned}, EstimateInsutype: InsutypeEmployee,
	}
}

// Limit names, as a refusal reports them.
const (
	LimitDisabled      = "offline_disabled"
	LimitIdentity      = "identity"
	LimitBill          = "max_bill"
	LimitPatientCount  = "max_bills_per_patient"
	LimitPatientAmount = "max_amount_per_patient"
	LimitTerminal      = "max_terminal_amount"
	LimitRecords       = "max_records"
	LimitAge           = "max_age"
)

// ErrOfflineLimit is a bill that could not be deferred.
var ErrOfflineLimit = errors.New("offline limit")

// LimitError names the limit a deferral would break.
type LimitError struct {
	Limit   string
	Message string
}

func (e *LimitError) Error() string { return fmt.Sprintf("offline limit %s: %s", e.Limit, e.Message) }
func (e *LimitError) Unwrap() error { return ErrOfflineLimit }

// Backlog is what is deferred and not yet settled on this terminal.
type Backlog struct {
	Count      int                     `json:"count"`
	Amount     money.Fen               `json:"amount_fen"`
	Oldest     time.Time               `json:"oldest,omitzero"`
	PerPatient map[string]PatientTotal `json:"-"`
}

// PatientTotal is one patient's part of the backlog.
type PatientTotal struct {
	Count  int
	Amount money.Fen
}

// inBacklog reports whether a settlement counts against the offline
// limits: deferred, and not yet settled, declined or voided.
func inBacklog(s *Settlement) bool {
	if s.DeferredAt.IsZero() {
		return false
	}
	switch s.State {
	case StateDeferred, StateSettling, StateInDoubt, StateReversing:
		return true
	}
	return false
}

// backlogStates are the states a backlog member can be in.
var backlogStates = []State{StateDeferred, StateSettling, StateInDoubt, StateReversing}

// Check returns nil if s may be deferred on top of b at now, or the first
// limit it breaks.
func (p OfflinePolicy) Check(b Backlog, s *Settlement, now time.Time) *LimitError {
	total := s.Bill.Total()
	pt := b.PerPatient[s.PatientRef]
	switch {
	case !p.Enabled:
		return &LimitError{LimitDisabled, "this terminal does not accept bills while the platform is unreachable"}
	case !slices.Contains(p.Trust, s.Offline):
		return &LimitError{LimitIdentity, fmt.Sprintf("a patient identified by %s cannot be settled offline here; use the card or a signed QR code", trustName(s.Offline))}
	case total > p.MaxBill:
		return &LimitError{LimitBill, fmt.Sprintf("bill %s is over the %s a deferred bill may be", total, p.MaxBill)}
	case pt.Count+1 > p.MaxPerPatientCount:
		return &LimitError{LimitPatientCount, fmt.Sprintf("the patient already has %d deferred bills (at most %d)", pt.Count, p.MaxPerPatientCount)}
	case pt.Amount+total > p.MaxPerPatientAmount:
		return &LimitError{LimitPatientAmount, fmt.Sprintf("the patient's deferred bills would total %s (at most %s)", pt.Amount+total, p.MaxPerPatientAmount)}
	case b.Amount+total > p.MaxTerminalAmount:
		return &LimitError{LimitTerminal, fmt.Sprintf("this terminal's deferred bills would total %s (at most %s)", b.Amount+total, p.MaxTerminalAmount)}
	case b.Count+1 > p.MaxRecords:
		return &LimitError{LimitRecords, fmt.Sprintf("this terminal already holds %d deferred bills (at most %d)", b.Count, p.MaxRecords)}
	case !b.Oldest.IsZero() && now.Sub(b.Oldest) > p.MaxAge:
		return &LimitError{LimitAge, fmt.Sprintf("the oldest deferred bill is %s old (at most %s); the backlog must be forwarded first", now.Sub(b.Oldest).Round(time.Minute), p.MaxAge)}
	}
	return nil
}

func trustName(kind string) string {
	switch kind {
	case TrustCard:
		return "social-security card"
	case TrustQRSigned:
		return "signed QR code"
	case TrustIDNumber:
		return "ID number typed at the window"
	case TrustQROpaque:
		return "a QR code that can only be checked online"
	}
	return "an unknown method"
}

// offlineKind is how a settlement's identity was established, for the
// offline limits.
func offlineKind(certType string, verifiedCode bool) string {
	switch certType {
	case CertSSCard:
		return TrustCard
	case CertIDNo:
		return TrustIDNumber
	case CertEVoucher:
		if verifiedCode {
			return TrustQRSigned
		}
		return TrustQROpaque
	}
	return ""
}

// Estimate computes a provisional split for a deferred bill from the
// platform's published policy: the item classes the HIS believes (class A
// where it gave none: the catalogue decides once the bill is forwarded),
// the fund's share as if the yearly deductible were already met and the
// cap far away (the most the fund could pay), nothing from the personal
// account. It is marked as an estimate; the patient pays at most the
// bill's total.
func Estimate(pol Policy, insutype string, b Bill) InsuranceSplit {
	sp := InsuranceSplit{Total: b.Total(), Estimate: true}
	ratio, selfPct := int64(0), pol.ClassBSelfPayPct
	for _, in := range pol.Insurance {
		if in.Insutype == insutype {
			ratio = in.RatioPct
		}
	}
	for _, it := range b.Items {
		switch it.Class {
		case ClassC:
			sp.Ownpay += it.Amount
		case ClassB:
			pre := it.Amount.Percent(selfPct)
			sp.Preselfpay += pre
			sp.Eligible += it.Amount - pre
		default:
			sp.Eligible += it.Amount
		}
	}
	sp.Fund = sp.Eligible.Percent(ratio)
	sp.Cash = sp.Total - sp.Fund
	return sp
}
