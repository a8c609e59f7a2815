package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
)

// A held bill is one the HIS leaves for the patient to pay later, at the
// kiosk or the window: the doctor has prescribed, the patient walks away,
// and settles when they identify themselves (scan, card, ID number). It
// holds no personal data in clear: the patient is a keyed pseudonym, to
// find the bills of whoever identifies, and a masked name, to show them.

// Held bill states.
const (
	HeldOpen      = "open"
	HeldSettled   = "settled"
	HeldCancelled = "cancelled"
)

// HeldBill is a bill left by the HIS.
type HeldBill struct {
	ID             string    `json:"id"`
	IdempotencyKey string    `json:"idempotency_key"`
	State          string    `json:"state"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Patient        string    `json:"patient"` // masked name
	Bill           Bill      `json:"bill"`
	Total          money.Fen `json:"total_fen"`
	// Settlement is the latest settlement made of it (declined or failed
	// ones are tried again under a new key).
	Settlement string `json:"settlement_id,omitempty"`
	Operator   string `json:"operator,omitempty"` // who left it, or cancelled it

	PatientRef  string `json:"patient_ref"`
	Fingerprint string `json:"fingerprint"`
	Attempt     int    `json:"attempt"`
}

// HoldRequest is a bill the HIS leaves for later.
type HoldRequest struct {
	IdempotencyKey string
	// Identity is the patient as the HIS registered them: the ID number
	// (cert type 02) with the name.
	Identity IdentityInput
	Operator Operator
	Bill     Bill
}

// Limits of the held list: a terminal's open bills of a day are few;
// ended ones are kept a day for the HIS to read back.
const (
	MaxHeldOpen  = 2000
	heldKeepDays = 1
	heldValue    = "held_bills"
)

// ErrHeldFull is a new held bill past MaxHeldOpen.
var ErrHeldFull = errors.New("too many open held bills on this terminal")

type heldList struct {
	Next  int64       `json:"next"`
	Bills []*HeldBill `json:"bills"`
}

// Hold stores a bill for the patient to pay later. The same key again is
// the same held bill (created false); another bill under it is refused.
func (s *Service) Hold(ctx context.Context, req HoldRequest) (*HeldBill, bool, error) {
	if req.Identity.CertType != CertIDNo {
		return nil, false, fmt.Errorf("%w: identity: a held bill names the patient by ID number (cert_type 02): whoever pays shows their code or card", ErrInvalid)
	}
	sr := SettleRequest{IdempotencyKey: req.IdempotencyKey, Identity: req.Identity, Operator: req.Operator, Bill: req.Bill}
	if err := sr.Validate(); err != nil {
		return nil, false, err
	}
	bill := req.Bill.normalized()
	fp := s.journal.Fingerprint(sr.fingerprintContent())
	var out *HeldBill
	created := false
	err := s.editHeld(ctx, func(l *heldList, now time.Time) error {
		open := 0
		for _, h := range l.Bills {
			if h.IdempotencyKey == req.IdempotencyKey {
				if h.Fingerprint != fp {
					return fmt.Errorf("%w: held bill %s", ErrIdempotencyConflict, h.ID)
				}
				out = h
				return nil
			}
			if h.State == HeldOpen {
				open++
			}
		}
		if open >= MaxHeldOpen {
			return fmt.Errorf("%w (%d): settle or cancel some first", ErrHeldFull, MaxHeldOpen)
		}
		l.Next++
		out = &HeldBill{
			ID: fmt.Sprintf("H%s%05d", now.In(CST).Format("20060102"), l.Next), IdempotencyKey: req.IdempotencyKey,
			State: HeldOpen, CreatedAt: now, UpdatedAt: now, Patient: mask.Name(req.Identity.Name), Bill: bill,
			Total: bill.Total(), Operator: req.Operator.ID,
			PatientRef: s.journal.Pseudonym(req.Identity.patientValue()), Fingerprint: fp,
		}
		l.Bills = append(l.Bills, out)
		created = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// HeldBills lists held bills, newest first: every one, or those of the
// patient identified by id (a scan, the card in a reader, an ID number).
func (s *Service) HeldBills(ctx context.Context, id *IdentityInput, states ...string) ([]*HeldBill, error) {
	ref := ""
	if id != nil {
		var err error
		if ref, err = s.patientOf(ctx, *id); err != nil {
			return nil, err
		}
	}
	l, err := s.loadHeld(ctx)
	if err != nil {
		return nil, err
	}
	var out []*HeldBill
	for _, h := range slices.Backward(l.Bills) {
		if (ref == "" || h.PatientRef == ref) && (len(states) == 0 || slices.Contains(states, h.State)) {
			out = append(out, h)
		}
	}
	return out, nil
}

// HeldBill returns one held bill, or ErrNotFound.
func (s *Service) HeldBill(ctx context.Context, id string) (*HeldBill, error) {
	l, err := s.loadHeld(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range l.Bills {
		if h.ID == id {
			return h, nil
		}
	}
	return nil, fmt.Errorf("%w: held bill %s", ErrNotFound, id)
}

// CancelHeld withdraws an open held bill (the HIS changed the
// prescription); a bill already settled is refunded, not cancelled.
func (s *Service) CancelHeld(ctx context.Context, id string, op Operator) (*HeldBill, error) {
	var out *HeldBill
	err := s.editHeld(ctx, func(l *heldList, now time.Time) error {
		for _, h := range l.Bills {
			if h.ID != id {
				continue
			}
			switch h.State {
			case HeldCancelled:
			case HeldOpen:
				h.State, h.UpdatedAt, h.Operator = HeldCancelled, now, op.ID
			default:
				return fmt.Errorf("%w: held bill %s is %s (settlement %s): refund it instead", ErrConflict, id, h.State, h.Settlement)
			}
			out = h
			return nil
		}
		return fmt.Errorf("%w: held bill %s", ErrNotFound, id)
	})
	return out, err
}

// SettleHeld settles a held bill for the patient now identified by id
// (who must be the patient it was left for). Settling it again returns
// the same settlement; one that was declined or failed is tried afresh.
func (s *Service) SettleHeld(ctx context.Context, heldID string, id IdentityInput, op Operator, mode string) (*Settlement, *HeldBill, error) {
	ctx = context.WithoutCancel(ctx)
	ref, err := s.patientOf(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	var h HeldBill
	err = s.editHeld(ctx, func(l *heldList, _ time.Time) error {
		for _, b := range l.Bills {
			if b.ID != heldID {
				continue
			}
			if b.PatientRef != ref {
				return refused(ErrConflict, RefuseOtherPatient, "这张账单不是您的，请到窗口咨询", "this bill was left for another patient; please ask at the window",
					fmt.Errorf("held bill %s belongs to another patient", heldID))
			}
			if b.State == HeldCancelled {
				return fmt.Errorf("%w: held bill %s was cancelled", ErrConflict, heldID)
			}
			if b.State == HeldOpen && b.Settlement != "" {
				if prev, err := s.journal.Get(ctx, b.Settlement); err == nil && (prev.State == StateDeclined || prev.State == StateFailed) {
					b.Attempt++ // a fresh try under a fresh key
				}
			}
			h = *b
			return nil
		}
		return fmt.Errorf("%w: held bill %s", ErrNotFound, heldID)
	})
	if err != nil {
		return nil, nil, err
	}
	if id.Scan != "" || id.CardReader != "" {
		// The identity is read afresh from the scan or the card by Settle.
		id = IdentityInput{Scan: id.Scan, CardReader: id.CardReader}
	}
	st, _, err := s.Settle(ctx, SettleRequest{
		IdempotencyKey: "held:" + h.ID + ":" + strconv.Itoa(h.Attempt),
		Identity:       id, Operator: op, Bill: h.Bill, Mode: mode,
	})
	if err != nil {
		return nil, nil, err
	}
	var out *HeldBill
	err = s.editHeld(ctx, func(l *heldList, now time.Time) error {
		for _, b := range l.Bills {
			if b.ID == heldID {
				b.Settlement, b.UpdatedAt = st.ID, now
				if st.State != StateDeclined && st.State != StateFailed {
					b.State = HeldSettled
				}
				out = b
			}
		}
		return nil
	})
	if err != nil {
		return st, nil, fmt.Errorf("%w: settlement %s made, but the held bill could not be marked: %w", ErrNotRecorded, st.ID, err)
	}
	return st, out, nil
}

// RefuseOtherPatient: a held bill settled by someone it was not left for.
const RefuseOtherPatient = "OTHER_PATIENT"

// patientOf is the pseudonym of the patient identity names, as held bills
// store it: by ID number, read from the card, or resolved from a scanned
// code (the e-voucher component for a national code, 1101 for one of our
// signed codes).
func (s *Service) patientOf(ctx context.Context, id IdentityInput) (string, error) {
	switch {
	case id.CardReader != "":
		in, err := s.cardIdentity(id.CardReader)
		if err != nil {
			return "", err
		}
		return s.journal.Pseudonym(in.patientValue()), nil
	case id.Scan != "":
		idno, err := s.scanHolder(ctx, id.Scan)
		if err != nil {
			return "", err
		}
		return s.journal.Pseudonym(IdentityInput{CertType: CertIDNo, CertNo: idno}.patientValue()), nil
	case id.CertType == CertIDNo && id.CertNo != "":
		return s.journal.Pseudonym(id.patientValue()), nil
	}
	return "", fmt.Errorf("%w: identity: a scan, a card_reader, or cert_type 02 with the ID number", ErrInvalid)
}

// scanHolder is the ID number of whoever showed the code of scan. The
// answer is kept with the scan: the platform takes a code once, in one
// 1101, so the bill settled with this scan is not identified again.
func (s *Service) scanHolder(ctx context.Context, scan string) (string, error) {
	if s.kiosk == nil {
		return "", refused(ErrInvalid, RefuseNoScanner, "本机未配置扫码器", "this terminal has no scanner configured", errors.New("no scanner configured"))
	}
	sc, err := s.kiosk.get(scan)
	if err == nil && sc.Rejection != nil {
		err = fmt.Errorf("%w: %w", ErrCodeRefused, sc.Rejection)
	}
	if err != nil {
		return "", scanRefusal(err)
	}
	if sc.person != nil {
		return sc.person.IDNo, nil
	}
	unresolved := func(err error) error {
		return refused(ErrUnreachable, RefuseCodeUnresolved, "暂时无法识别医保码，请稍后再试或到窗口缴费", "the code cannot be resolved now; try again later or pay at the window", err)
	}
	if !sc.Verified && s.evoucher != nil {
		h, err := s.evoucher.Query(ctx, EVoucherQuery{Code: sc.text, BusinessType: EVoucherSettle,
			OperatorID: s.header.TerminalID, OperatorName: s.header.TerminalID, Kiosk: true})
		if err != nil || h.IDNo == "" {
			return "", unresolved(err)
		}
		s.kiosk.setPerson(sc.ID, scanPerson{IDNo: h.IDNo, Name: h.Name, Token: h.Token})
		return h.IDNo, nil
	}
	msgid, err := s.journal.AllocateMsgid(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrJournal, err)
	}
	p, err := s.insurance.Identify(ctx, IdentifyRequest{Exchange: Exchange{Msgid: msgid, Operator: Operator{ID: s.header.TerminalID, Name: s.header.TerminalID, Type: OpterKiosk}},
		CertType: CertEVoucher, CertNo: sc.text, At: s.clock.Now()})
	if err != nil || p.IDNo == "" || p.PsnNo == "" {
		return "", unresolved(err)
	}
	insu, _ := p.Active()
	s.kiosk.setPerson(sc.ID, scanPerson{IDNo: p.IDNo, Name: p.Name, PsnNo: p.PsnNo, Insutype: insu.Type, Insuplc: insu.Region})
	return p.IDNo, nil
}

func (s *Service) loadHeld(ctx context.Context) (*heldList, error) {
	raw, err := s.journal.Value(ctx, heldValue)
	if errors.Is(err, ErrNotFound) {
		return &heldList{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: held bills: %w", ErrJournal, err)
	}
	var l heldList
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("%w: held bills unreadable: %w", ErrJournal, err)
	}
	return &l, nil
}

// editHeld reads, changes and durably stores the held list, one change at
// a time; bills ended more than a day ago are dropped on the way.
func (s *Service) editHeld(ctx context.Context, fn func(*heldList, time.Time) error) error {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	l, err := s.loadHeld(ctx)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if err := fn(l, now); err != nil {
		return err
	}
	l.Bills = slices.DeleteFunc(l.Bills, func(h *HeldBill) bool {
		return h.State != HeldOpen && now.Sub(h.UpdatedAt) > heldKeepDays*24*time.Hour
	})
	raw, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if err := s.journal.SetValue(ctx, heldValue, raw); err != nil {
		return fmt.Errorf("%w: held bills: %w", ErrNotAccepted, err)
	}
	return nil
}
