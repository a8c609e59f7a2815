package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
)

// Failure codes: the agent's own words for why a settlement stopped. A
// refusal by the platform carries its kind (Refusal) and its own message.
const (
	FailUnreachable = "PLATFORM_UNREACHABLE"
	FailInDoubt     = "IN_DOUBT"
	FailBadAnswer   = "BAD_ANSWER"
	FailRefused     = "PLATFORM_REFUSED"
	FailDeclined    = "PLATFORM_DECLINED"
)

// Service runs settlements: it is the one place where the workflow's
// order and its durability rules live.
type Service struct {
	journal   Journal
	insurance Insurance
	evoucher  EVoucher       // nil: national codes are sent to 1101 as they are
	payment   PaymentChannel // nil: the patient's part is collected at the window
	clock     clock.Clock
	log       *slog.Logger
	header    ReceiptHeader
	desk      *Desk
	kiosk     *Kiosk
	bus       *events.Bus
	offline   OfflinePolicy
	// stepTimeout bounds a whole settlement's platform work once started;
	// it runs detached from the caller, so a client hanging up cannot leave
	// a request half-sent.
	stepTimeout time.Duration
	// inDoubtWindow is how long an unanswered settlement request is resent
	// under its msgid before it is given up and reversed.
	inDoubtWindow          time.Duration
	minBackoff, maxBackoff time.Duration

	locks   keyedMutex
	heldMu  sync.Mutex // one change of the held bills at a time
	backlog backlogCache
	kickMu  sync.Mutex
	kick    func() // wakes the forwarder
}

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Journal   Journal
	Insurance Insurance
	// Payment takes the patient's own part; nil leaves it to the window.
	Payment PaymentChannel
	// EVoucher resolves national e-voucher codes (scanned codes not in our
	// signed format) into the token 1101 takes.
	EVoucher    EVoucher
	Clock       clock.Clock
	Logger      *slog.Logger
	Receipt     ReceiptHeader
	StepTimeout time.Duration // default 2 minutes
	// Desk, if set, is the consultation room's card readers, for bills
	// settled "for the card in this reader".
	Desk *Desk
	// Kiosk, if set, holds the codes scanned here, for bills settled "for
	// the code just scanned".
	Kiosk *Kiosk
	// Events receives settlement state changes.
	Events *events.Bus
	// Offline is the hospital's limits for deferred bills; the zero value
	// defers nothing.
	Offline OfflinePolicy
	// InDoubtWindow: default 10 minutes.
	InDoubtWindow time.Duration
	// MinBackoff and MaxBackoff space out the forwarding attempts of one
	// bill that keeps failing: default 5 s and 10 minutes.
	MinBackoff, MaxBackoff time.Duration
}

// NewService returns a Service.
func NewService(c ServiceConfig) *Service {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.StepTimeout, 2*time.Minute)
	def(&c.InDoubtWindow, 10*time.Minute)
	def(&c.MinBackoff, 5*time.Second)
	def(&c.MaxBackoff, 10*time.Minute)
	return &Service{
		journal: c.Journal, insurance: c.Insurance, payment: c.Payment, evoucher: c.EVoucher, clock: c.Clock, log: c.Logger, header: c.Receipt,
		stepTimeout: c.StepTimeout, desk: c.Desk, kiosk: c.Kiosk, bus: c.Events, offline: c.Offline,
		inDoubtWindow: c.InDoubtWindow, minBackoff: c.MinBackoff, maxBackoff: c.MaxBackoff,
	}
}

// OnDeferred sets the function that wakes the forwarder when a bill is
// deferred or a reversal makes one due again.
func (s *Service) OnDeferred(kick func()) {
	s.kickMu.Lock()
	defer s.kickMu.Unlock()
	s.kick = kick
}

func (s *Service) wakeForwarder() {
	s.kickMu.Lock()
	k := s.kick
	s.kickMu.Unlock()
	if k != nil {
		k()
	}
}

// platformAvailable reports whether the platform is believed reachable
// (a client with a circuit breaker says so; any other is assumed up).
func (s *Service) platformAvailable() bool {
	if a, ok := s.insurance.(interface{ Available() bool }); ok {
		return a.Available()
	}
	return true
}

// Settle accepts a bill and settles it online. It returns the settlement
// as it stands when the workflow stops (settled, declined, deferred,
// failed or in doubt) and whether this call created it; ctx's
// cancellation does not stop it. The same idempotency key again
// returns the same settlement, resuming it first if it can move on.
func (s *Service) Settle(ctx context.Context, req SettleRequest) (*Settlement, bool, error) {
	// The caller may hang up at any moment (a HIS closing its connection
	// right after sending, a crashed client): once the bill is read it is
	// settled as if the caller had waited, so nothing the journal accepts
	// is left half done. The HIS learns the outcome by resubmitting under
	// the same key, or from the event stream.
	ctx = context.WithoutCancel(ctx)
	if req.Identity.CardReader != "" || req.Identity.Scan != "" {
		// A retry after the card was taken out, or the scan expired, still
		// finds its settlement.
		if err := checkKey(req.IdempotencyKey); err != nil {
			return nil, false, err
		}
		if st, err := s.journal.ByKey(ctx, req.IdempotencyKey); err == nil {
			// The identity is the card's or the scan's, read when the key
			// was first used; the bill must still be the same one.
			if !sameBill(st.Bill, req.Bill.normalized()) {
				return nil, false, fmt.Errorf("%w: settlement %s was made for another bill", ErrIdempotencyConflict, st.ID)
			}
			out, err := s.resume(ctx, st.ID)
			return out, false, err
		}
		var id IdentityInput
		var err error
		if req.Identity.CardReader != "" {
			id, err = s.cardIdentity(req.Identity.CardReader)
		} else {
			id, err = s.scanIdentity(req.Identity.Scan, req.IdempotencyKey)
		}
		if err != nil {
			return nil, false, err
		}
		req.Identity = id
	}
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	now := s.clock.Now()
	mode := req.Mode
	if mode == "" {
		mode = ModePreferOnline
	}
	req.Bill = req.Bill.normalized()
	rec := &Settlement{
		IdempotencyKey:      req.IdempotencyKey,
		Fingerprint:         s.journal.Fingerprint(req.fingerprintContent()),
		EarlierFingerprints: s.earlierFingerprints(req),
		CreatedAt:           now,
		CertType:            req.Identity.CertType,
		Operator:            req.Operator,
		Bill:                req.Bill,
		Mode:                mode,
		PatientRef:          s.journal.Pseudonym(req.Identity.patientValue()),
		Offline:             offlineKind(req.Identity.CertType, req.Identity.Verified),
		Personal: Personal{
			CertNo: req.Identity.CertNo, Name: req.Identity.Name,
			IDNo: req.Identity.IDNo, CardSN: req.Identity.CardSN,
			AccountNo: req.Identity.AccountNo, Token: req.Identity.Token,
		},
	}
	if req.Identity.PsnNo != "" && req.Identity.Insutype != "" {
		rec.Personal.PsnNo, rec.Insutype, rec.InsuplcAdmdvs = req.Identity.PsnNo, req.Identity.Insutype, req.Identity.Insuplc
	}
	if req.Identity.CertType == CertIDNo {
		rec.Personal.IDNo = req.Identity.CertNo
	}
	rec.transition(now, StateAccepted, "")
	// A bill the workflow would defer as soon as it ran (the caller or the
	// breaker says the platform is away) is deferred in the write that
	// accepts it: one write and its syncs, not two.
	var d *deferralDecision
	if mode != ModeRequireOnline && (mode == ModeForceOffline || !s.platformAvailable()) {
		if err := s.backlog.ready(ctx, s); err != nil {
			return nil, false, err
		}
		d = s.deferral(ctx, rec, "platform unreachable", now)
	}
	stored, created, err := s.journal.Accept(ctx, rec, func(st *Settlement, ids MsgidAllocator) error {
		st.Msgids = make(map[string]string, len(settleSteps))
		for _, step := range settleSteps {
			id, err := ids.Next()
			if err != nil {
				return err
			}
			st.Msgids[step] = id
		}
		if d != nil {
			d.decide(st)
		}
		return nil
	})
	if d != nil && (err != nil || !created) {
		d.undo() // nothing stored, or the key's earlier bill
	}
	if err != nil {
		if errors.Is(err, ErrNotStored) {
			err = fmt.Errorf("%w: %w", ErrNotAccepted, err)
		}
		return nil, false, fmt.Errorf("accept settlement: %w", err)
	}
	s.log.Info("settlement accepted", "id", stored.ID, "created", created, "cert_type", stored.CertType, "total", stored.Bill.Total().String())
	if d != nil && created {
		s.deferred(stored, d)
		return stored, true, nil
	}
	out, err := s.resume(ctx, stored.ID)
	return out, created, err
}

// cardIdentity is the identity of the card in a desk reader.
func (s *Service) cardIdentity(reader string) (IdentityInput, error) {
	if s.desk == nil {
		return IdentityInput{}, refused(ErrInvalid, RefuseNoReader, "本机未配置读卡器", "this terminal has no card reader configured", ErrNoDeskReader)
	}
	if reader == "desk" {
		reader = ""
	}
	c, err := s.desk.Card(reader)
	if err != nil {
		return IdentityInput{}, CardRefusal(err)
	}
	return identityFromCard(c), nil
}

// sameBill reports whether two bills are the same bill, item for item.
func sameBill(a, b Bill) bool {
	return a.VisitNo == b.VisitNo && a.DeptCode == b.DeptCode && a.DoctorID == b.DoctorID && slices.Equal(a.Items, b.Items)
}

// scanIdentity is the identity of a code scanned at this kiosk.
func (s *Service) scanIdentity(scan, key string) (IdentityInput, error) {
	if s.kiosk == nil {
		return IdentityInput{}, refused(ErrInvalid, RefuseNoScanner, "本机未配置扫码器", "this terminal has no scanner configured", errors.New("no scanner configured"))
	}
	id, err := s.kiosk.identity(scan, key)
	if err != nil {
		return IdentityInput{}, scanRefusal(err)
	}
	return id, nil
}

func (s *Service) resume(ctx context.Context, id string) (*Settlement, error) {
	unlock := s.locks.lock(id)
	defer unlock()
	cur, err := s.journal.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !cur.State.Resumable() {
		return cur, nil
	}
	// Detached: once started, the platform exchange finishes (or is safely
	// recorded as in doubt) even if the caller hangs up.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.stepTimeout)
	defer cancel()
	return s.drive(wctx, cur, false)
}

// drive runs the remaining steps of a settlement. Steps before the
// settlement itself only read or register and are replayed under their
// msgids; the platform answers a replay with its first answer, so the
// journal records them together, in the single update that also marks the
// settlement request as about to be sent. forwarding is true when the
// forwarder drives a deferred bill: it may not be deferred again, and a
// decline makes it arrears.
func (s *Service) drive(ctx context.Context, cur *Settlement, forwarding bool) (*Settlement, error) {
	switch {
	case cur.State == StatePaying:
		return s.pay(ctx, cur)
	case cur.State == StateReversing,
		cur.State == StateInDoubt && s.clock.Now().Sub(cur.InDoubtSince) > s.inDoubtWindow:
		return s.reverse(ctx, cur)
	}
	// Only a bill nobody has sent yet may go offline instead.
	mayDefer := !forwarding && cur.DeferredAt.IsZero() && cur.Mode != ModeRequireOnline &&
		(cur.State == StateAccepted || cur.State == StateFailed)
	if mayDefer && (cur.Mode == ModeForceOffline || !s.platformAvailable()) {
		return s.deferOrRefuse(ctx, cur, "platform unreachable")
	}
	first := false // this call is the first ever to send this 2207 msgid
	var known *lookedUp
	if cur.State != StateSettling && cur.State != StateInDoubt {
		prep, err := s.prepare(ctx, cur)
		if err != nil {
			if mayDefer && unreachable(err) {
				return s.deferOrRefuse(ctx, cur, "platform unreachable")
			}
			return s.stop(ctx, cur, err, false)
		}
		cur, err = s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			prep.apply(st)
			st.Error = nil
			st.transition(s.clock.Now(), StateSettling, "pre-settled "+st.Split.String())
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record pre-settlement: %w", err)
		}
		first, known = true, prep.agreement
	}
	booked, err := s.settle(ctx, cur)
	if err != nil {
		r, isRefusal := refusal(err)
		if first && (errors.Is(err, ErrUnreachable) || (isRefusal && !r.Processed())) {
			// No attempt of this msgid reached the platform (the client says
			// in doubt as soon as one may have), and no earlier process sent
			// it (the state was not settling before): nothing can have been
			// booked.
			if mayDefer {
				return s.deferOrRefuse(ctx, cur, "platform unreachable")
			}
			return s.stop(ctx, cur, err, false)
		}
		return s.stop(ctx, cur, err, true)
	}
	var order *lookedUp    // the agreement of an order placed with the booking
	var orderSrc PaySource // and its source
	st, err := s.update(ctx, cur.ID, func(st *Settlement, ids MsgidAllocator) error {
		order = nil
		st.Split = booked.Split
		st.SetlID, st.SetlTime, st.Clearing = booked.SetlID, booked.SetlDay, Clearing{Region: booked.ClearingRegion, Way: booked.ClearingWay, Type: booked.ClearingType}
		st.SettledAt = s.clock.Now()
		st.Pay.Amount = booked.Split.Cash
		st.Error, st.InDoubtSince, st.Tries, st.NextTry = nil, time.Time{}, 0, time.Time{}
		if booked.Split.Cash == 0 {
			// Nothing for the patient to pay: settled in the same write.
			st.Pay.Status = PayNone
			st.transition(st.SettledAt, StateSettled, "booked "+booked.Split.String()+"; nothing for the patient to pay")
			return nil
		}
		st.transition(st.SettledAt, StatePaying, "insured part booked: "+booked.Split.String())
		if a, src, ok := s.orderAtBooking(st, known); ok {
			if err := s.placeOrder(st, ids, a, src); err != nil {
				return err
			}
			order, orderSrc = known, src
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record settlement: %w", err)
	}
	s.log.Info("insured part booked", "id", st.ID, "setl_id", st.SetlID, "total", st.Split.Total.String(), "cash", st.Split.Cash.String(), "deferred", !st.DeferredAt.IsZero())
	if st.State == StateSettled {
		s.announce(st)
		return st, nil
	}
	if order != nil {
		next, done, err := s.sendPlaced(ctx, st, order.agreement, orderSrc)
		if err != nil || done {
			return next, err
		}
		st, known = next, nil
	}
	return s.payWith(ctx, st, known)
}

// unreachable reports whether err means the platform was not reached, or
// did not answer a request that moves no money.
func unreachable(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrInDoubt)
}

// announce publishes a settlement's new state, without personal data.
func (s *Service) announce(st *Settlement) {
	data := map[string]any{
		"id": st.ID, "state": st.State, "idempotency_key": st.IdempotencyKey,
		"total_fen": st.Bill.Total(), "payment": st.Pay.Status,
	}
	if st.Refund != nil {
		// A declined refund leaves the bill settled: without this the HIS
		// could not tell that announcement from the original settlement.
		data["refund"] = st.Refund.State
	}
	s.bus.Publish(events.SettlementState, data)
}

// stop records why the workflow stopped short and returns the stored
// settlement. The error is returned only when the journal itself failed:
// a declined or unreachable settlement is an answer, not an error.
func (s *Service) stop(ctx context.Context, cur *Settlement, cause error, settling bool) (*Settlement, error) {
	state, fail := classify(cause, settling)
	deferred := !cur.DeferredAt.IsZero()
	switch {
	case deferred && state == StateDeclined:
		// The patient was treated on trust; the platform said no.
		state = StateArrears
	case deferred && state == StateFailed:
		// Not forwarded this time: it stays in the backlog.
		state = StateDeferred
	}
	s.log.Warn("settlement stopped", "id", cur.ID, "state", state, "code", fail.Code, "err", cause)
	estimate := s.estimate(ctx, cur)
	st, err := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
		now := s.clock.Now()
		st.Error = &fail
		if state == StateDeferred {
			// Back in the backlog: nothing is settled, so the receipt shows
			// the estimate again, not a pre-settlement.
			st.Split, st.Pay = estimate, PaymentLeg{Confirmed: st.Pay.Confirmed}
		}
		if state == StateInDoubt && st.InDoubtSince.IsZero() {
			st.InDoubtSince = now
		}
		if state == StateDeferred || state == StateInDoubt {
			st.Tries++
			st.NextTry = now.Add(s.backoff(st.Tries))
		}
		if st.State == state && state == StateDeferred {
			st.UpdatedAt = now // not a new state: no history entry per retry
			return nil
		}
		st.transition(now, state, fail.Code)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %s: %w (after: %v)", state, err, cause)
	}
	s.announce(st)
	return st, nil
}

// backoff is the wait before a bill's next forwarding attempt: exponential
// with jitter, bounded.
func (s *Service) backoff(tries int) time.Duration {
	d := s.minBackoff << min(tries-1, 20)
	if d > s.maxBackoff || d <= 0 {
		d = s.maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// classify maps a step's error to the state it leaves the settlement in.
// Once the settlement request may have been sent (settling), anything but
// a clear answer leaves it in doubt: it might have been booked.
func classify(err error, settling bool) (State, Failure) {
	r, isRefusal := refusal(err)
	switch {
	case isRefusal && r.Processed():
		return StateDeclined, Failure{Code: FailDeclined, Kind: r.Kind, Message: r.Message}
	case settling && isRefusal:
		// This attempt was refused at the door, but an earlier one (before
		// a restart) may have been booked.
		return StateInDoubt, Failure{Code: FailRefused, Kind: r.Kind, Message: r.Error()}
	case isRefusal:
		// Refused at the door (signature, clock, session): nothing was
		// processed.
		return StateFailed, Failure{Code: FailRefused, Kind: r.Kind, Message: r.Error()}
	case settling && errors.Is(err, ErrUnreachable):
		// This attempt never left, but an earlier one (before a restart)
		// may have: only an answer under the same msgid settles it.
		return StateInDoubt, Failure{Code: FailUnreachable, Message: err.Error()}
	case settling:
		return StateInDoubt, Failure{Code: FailInDoubt, Message: err.Error()}
	case errors.Is(err, ErrUnreachable), errors.Is(err, ErrInDoubt):
		return StateFailed, Failure{Code: FailUnreachable, Message: err.Error()}
	default:
		return StateFailed, Failure{Code: FailBadAnswer, Message: err.Error()}
	}
}

// Get returns a stored settlement.
func (s *Service) Get(ctx context.Context, id string) (*Settlement, error) {
	return s.journal.Get(ctx, id)
}

// List returns stored settlements.
func (s *Service) List(ctx context.Context, f ListFilter) ([]*Settlement, error) {
	return s.journal.List(ctx, f)
}
