package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seed-a859fada/medterm/agent/mask"
)

// The payment leg: the patient's own part of a bill (the insurance split's
// Cash), taken through the payment channel once the insurance platform has
// booked the insured part. Each order is stored in the journal before it
// is sent and repeated unchanged on every resend and query, so the channel
// takes the part at most once whatever fails; an order whose outcome is
// unknown is queried until the channel says.

// Why a part is pending, besides the channel's own reasons.
const (
	// ReasonNoChannel: this terminal has no payment channel configured:
	// the patient's part is always collected at the window.
	ReasonNoChannel = "no_channel"
	// ReasonNoSource: the agreement has no source left to try.
	ReasonNoSource = "no_source"
)

// queryDelays is when an order whose outcome is unknown is queried again:
// UnionPay's schedule (1, 2, 4, 8, 16 and 32 s, at most six times), then
// every 32 s until the channel says or reconciliation settles it.
var queryDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}

func queryDelay(queries int) time.Duration {
	return queryDelays[min(queries, len(queryDelays)-1)]
}

// agreementFor looks up who pays the patient's part and how, before the
// pre-settlement (whether the personal account pays first). With no
// agreement, or a channel that does not answer, the account pays first:
// the default of every rollout; the payment leg asks again when it pays.
// The agreement found is returned too, for the payment that follows in
// the same run (see lookedUp).
func (s *Service) agreementFor(ctx context.Context, st *Settlement, p Person, region string) (PaymentLeg, *lookedUp) {
	leg := PaymentLeg{AccountFirst: true, Confirmed: st.Pay.Confirmed}
	if s.payment == nil {
		leg.Reason = ReasonNoChannel
		return leg, nil
	}
	q := s.agreementQuery(st, p.IDNo, p.Name)
	if region != "" {
		q.Region = region
	}
	a, err := s.payment.Agreement(ctx, q)
	switch {
	case errors.Is(err, ErrNoAgreement):
		leg.Reason = ReasonNoAgreement
	case err != nil:
		s.log.Warn("agreement not looked up before pre-settlement", "id", st.ID, "err", err)
	default:
		leg.setAgreement(a)
		return leg, &lookedUp{query: q, agreement: a}
	}
	return leg, nil
}

// lookedUp is an agreement as the channel answered it moments before, in
// this run of the bill's workflow: the payment right after the booking
// takes it instead of asking the channel the same question again. It is
// never stored (it holds the sources' tokens) and serves one payment
// attempt only; it serves none if the bill's query has changed since.
type lookedUp struct {
	query     AgreementQuery
	agreement Agreement
}

func (s *Service) agreementQuery(st *Settlement, idNo, name string) AgreementQuery {
	if idNo == "" {
		idNo = st.Personal.IDNo
	}
	if name == "" {
		name = st.Personal.Name
	}
	return AgreementQuery{IDNo: idNo, Name: name, Region: st.InsuplcAdmdvs}
}

// setAgreement records what the leg keeps of an agreement: never a
// source's token, which is looked up again when paying.
func (leg *PaymentLeg) setAgreement(a Agreement) {
	leg.AgreementID, leg.AccountFirst, leg.Reason = a.ID, a.AccountFirst, ""
	leg.Family = nil
	if a.Family != nil {
		f := *a.Family
		f.Signer = mask.Name(f.Signer)
		leg.Family = &f
	}
	leg.sources = a.Sources
}

// hasCredit reports whether the agreement last looked up has a credit line.
func (leg PaymentLeg) hasCredit() bool {
	return slices.ContainsFunc(leg.sources, func(p PaySource) bool { return p.Kind == SourceCreditLine })
}

// pay drives the payment leg of a settlement whose insured part is booked
// (state paying) until the part is taken, pending, or out with an unknown
// outcome (then the forwarder queries it). It returns the settlement as
// stored; an error only when the journal failed.
func (s *Service) pay(ctx context.Context, cur *Settlement) (*Settlement, error) {
	return s.payWith(ctx, cur, nil)
}

// payWith is pay, with the agreement the pre-settlement looked up if this
// run has it.
func (s *Service) payWith(ctx context.Context, cur *Settlement, known *lookedUp) (*Settlement, error) {
	for {
		leg := cur.Pay
		if leg.Amount <= 0 {
			return s.finishPay(ctx, cur, PayNone, "", "")
		}
		if s.payment == nil {
			return s.finishPay(ctx, cur, PayPending, ReasonNoChannel, "no payment channel on this terminal")
		}
		if o := leg.lastOrder(OrderPay); o != nil && (o.Status == OrderAllocated || o.Status == OrderUnknown) {
			next, done, err := s.resolveOrder(ctx, cur, *o)
			if err != nil || done {
				return next, err
			}
			cur = next
			continue
		}
		var a Agreement
		var err error
		if q := s.agreementQuery(cur, "", ""); known != nil && known.query == q {
			a = known.agreement
		} else {
			a, err = s.payment.Agreement(ctx, q)
		}
		known = nil // a second attempt (another source) asks again
		switch {
		case errors.Is(err, ErrNoAgreement):
			return s.finishPay(ctx, cur, PayPending, ReasonNoAgreement, "")
		case errors.Is(err, ErrInvalid):
			// A clear no (the name is not the ID number's, say): asking
			// again will not change it.
			return s.finishPay(ctx, cur, PayPending, ReasonOther, "the payment channel refused to look up the agreement")
		case err != nil:
			return s.payLater(ctx, cur, fmt.Errorf("look up the agreement: %w", err))
		}
		if a.Family != nil && a.Family.ConfirmFirst && !leg.Confirmed {
			cur, err = s.updatePay(ctx, cur.ID, func(l *PaymentLeg) { l.setAgreement(a) })
			if err != nil {
				return nil, err
			}
			return s.finishPay(ctx, cur, PayConfirmRequired, ReasonConfirmRequired, "the family-pay signer asks to confirm each bill")
		}
		src, ok := nextSource(a, leg)
		if !ok {
			return s.finishPay(ctx, cur, PayPending, exhausted(leg), "")
		}
		cur, err = s.update(ctx, cur.ID, func(st *Settlement, ids MsgidAllocator) error {
			return s.placeOrder(st, ids, a, src)
		})
		if err != nil {
			return nil, fmt.Errorf("record payment order: %w", err)
		}
		next, done, err := s.sendPlaced(ctx, cur, a, src)
		if err != nil || done {
			return next, err
		}
		cur = next
	}
}

// placeOrder adds to st the order for the patient's part from src of a,
// its id allocated in the write that stores it: the order is stored
// before it is sent, so that a crash from then on leaves an order to
// resend or query, never a debit unknown here.
func (s *Service) placeOrder(st *Settlement, ids MsgidAllocator, a Agreement, src PaySource) error {
	// The first order takes the id allocated with the bill; any later one
	// (another source, or a bill accepted without it) a new one.
	id := st.Msgids[StepPayOrder]
	if id == "" || slices.ContainsFunc(st.Pay.Orders, func(o PayOrderRecord) bool { return o.OrderID == id }) {
		var err error
		if id, err = ids.Next(); err != nil {
			return err
		}
	}
	st.Pay.setAgreement(a)
	st.Pay.Orders = append(st.Pay.Orders, PayOrderRecord{Kind: OrderPay, OrderID: id, TxnTime: s.clock.Now(),
		Amount: st.Pay.Amount, Source: src.Kind, Status: OrderAllocated})
	return nil
}

// sendPlaced sends the order placeOrder stored in cur.
func (s *Service) sendPlaced(ctx context.Context, cur *Settlement, a Agreement, src PaySource) (*Settlement, bool, error) {
	cur.Pay.sources = a.Sources
	return s.sendOrder(ctx, cur, *cur.Pay.lastOrder(OrderPay), a, src)
}

// orderAtBooking is the order the booking's own write may place, so that
// the payment costs no write of its own: when the agreement was looked up
// for this bill moments before (known), asks no confirmation first, and
// has a source to pay from. Otherwise payWith decides, as after a restart.
func (s *Service) orderAtBooking(st *Settlement, known *lookedUp) (Agreement, PaySource, bool) {
	if known == nil || s.payment == nil || st.Pay.Amount <= 0 || known.query != s.agreementQuery(st, "", "") {
		return Agreement{}, PaySource{}, false
	}
	if o := st.Pay.lastOrder(OrderPay); o != nil && (o.Status == OrderAllocated || o.Status == OrderUnknown) {
		return Agreement{}, PaySource{}, false
	}
	a := known.agreement
	if a.Family != nil && a.Family.ConfirmFirst && !st.Pay.Confirmed {
		return Agreement{}, PaySource{}, false
	}
	src, ok := nextSource(a, st.Pay)
	return a, src, ok
}

// nextSource is the agreement's first source, in the patient's order, not
// yet refused for this bill for lack of funds or a dead source. When the
// whole part was left to the credit line, the credit line comes first;
// should it refuse for good (closed to the patient's age, used up), the
// other sources are tried after it, each for the whole part as well: a
// part the credit line cannot take is not pending while a source might.
func nextSource(a Agreement, leg PaymentLeg) (PaySource, bool) {
	order := a.Sources
	if leg.CreditWhole {
		order = slices.Clone(a.Sources)
		slices.SortStableFunc(order, func(x, y PaySource) int {
			return creditRank(x) - creditRank(y)
		})
	}
	for _, src := range order {
		// A source refused for a limit may pay once the patient confirms;
		// one refused for its funds or its state will not.
		tried := slices.ContainsFunc(leg.Orders, func(o PayOrderRecord) bool {
			return o.Kind == OrderPay && o.Source == src.Kind && o.Status == OrderRefused &&
				(o.Reason == ReasonInsufficient || o.Reason == ReasonSourceInvalid)
		})
		if !tried {
			return src, true
		}
	}
	return PaySource{}, false
}

// exhausted is why no source could pay: a lack of funds when any source
// lacked them (what the patient can act on: the card was short), else the
// last refusal's reason.
func exhausted(leg PaymentLeg) string {
	reason := ReasonNoSource
	for _, o := range leg.Orders {
		if o.Kind != OrderPay || o.Status != OrderRefused {
			continue
		}
		if o.Reason == ReasonInsufficient {
			return ReasonInsufficient
		}
		if o.Reason != "" {
			reason = o.Reason
		}
	}
	return reason
}

func creditRank(p PaySource) int {
	if p.Kind == SourceCreditLine {
		return 0
	}
	return 1
}

// sendOrder sends a stored order and records what the channel answered.
// done: the leg has reached a stop (paid, pending, or an outcome to wait
// for); otherwise the next source is to be tried.
func (s *Service) sendOrder(ctx context.Context, cur *Settlement, o PayOrderRecord, a Agreement, src PaySource) (*Settlement, bool, error) {
	out, err := s.payment.Pay(ctx, PayOrder{OrderRef: OrderRef{OrderID: o.OrderID, TxnTime: o.TxnTime}, Amount: o.Amount,
		AgreementID: a.ID, Source: src, Confirmed: cur.Pay.Confirmed, Settlement: cur.ID})
	return s.recordOutcome(ctx, cur, o, src, out, err)
}

// resolveOrder finds out what became of an order that was stored and
// perhaps sent: queried if it was sent, sent again if the channel never
// had it (the same order: the channel takes it once).
func (s *Service) resolveOrder(ctx context.Context, cur *Settlement, o PayOrderRecord) (*Settlement, bool, error) {
	if o.Status == OrderUnknown && s.clock.Now().Before(o.NextQuery) {
		return cur, true, nil // not due yet
	}
	out, err := s.payment.Query(ctx, OrderRef{OrderID: o.OrderID, TxnTime: o.TxnTime})
	if err == nil && out.Status == PayRefused && out.Reason == ReasonNotFound {
		// Never arrived: send it again, as it was.
		a, aerr := s.payment.Agreement(ctx, s.agreementQuery(cur, "", ""))
		if aerr != nil {
			return s.payLaterDone(ctx, cur, fmt.Errorf("look up the agreement: %w", aerr))
		}
		src, ok := sourceOfKind(a, o.Source)
		if !ok {
			out = PayOutcome{Status: PayRefused, Reason: ReasonSourceInvalid, Message: "the source of the order is no longer in the agreement"}
		} else {
			return s.sendOrder(ctx, cur, o, a, src)
		}
	}
	return s.recordOutcome(ctx, cur, o, PaySource{Kind: o.Source}, out, err)
}

func sourceOfKind(a Agreement, kind string) (PaySource, bool) {
	for _, src := range a.Sources {
		if src.Kind == kind {
			return src, true
		}
	}
	return PaySource{}, false
}

// recordOutcome stores what the channel said of order o.
func (s *Service) recordOutcome(ctx context.Context, cur *Settlement, o PayOrderRecord, src PaySource, out PayOutcome, err error) (*Settlement, bool, error) {
	now := s.clock.Now()
	switch {
	case errors.Is(err, ErrUnreachable):
		// Certainly not received: the order stays as it is, to be sent
		// again later.
		st, err := s.payLater(ctx, cur, err)
		return st, true, err
	case err != nil || out.Status == PayUnknown:
		// Perhaps taken: query on the channel's schedule.
		reason := "processing"
		if err != nil {
			reason = err.Error()
		}
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			r := st.Pay.order(o.OrderID)
			if r.Status != OrderUnknown {
				r.Status, r.Queries = OrderUnknown, 0
			} else {
				r.Queries++
			}
			r.NextQuery = now.Add(queryDelay(r.Queries))
			st.Pay.Status, st.Pay.Message = PayPaying, reason
			st.NextTry = r.NextQuery
			st.UpdatedAt = now
			return nil
		})
		if uerr != nil {
			return nil, true, fmt.Errorf("record unknown payment outcome: %w", uerr)
		}
		s.log.Warn("payment outcome unknown", "id", st.ID, "order", o.OrderID, "err", err)
		s.wakeForwarder()
		return st, true, nil
	case out.Status == PaySucceeded:
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			r := st.Pay.order(o.OrderID)
			r.Status, r.QueryID, r.NextQuery = OrderSucceeded, out.QueryID, time.Time{}
			shown := src
			shown.Token = "" // a source's token is never stored
			st.Pay.Source = &shown
			st.Pay.Status, st.Pay.Reason, st.Pay.Message, st.Pay.PaidAt = PayPaid, "", "", now
			st.Tries, st.NextTry = 0, time.Time{}
			st.transition(now, StateSettled, "patient's part paid from "+r.Source)
			return nil
		})
		if uerr != nil {
			return nil, true, fmt.Errorf("record payment: %w", uerr)
		}
		s.log.Info("patient's part paid", "id", st.ID, "amount", st.Pay.Amount.String(), "source", st.Pay.Source.Kind)
		s.announce(st)
		return st, true, nil
	}
	// Refused.
	st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
		r := st.Pay.order(o.OrderID)
		r.Status, r.Reason, r.NextQuery = OrderRefused, out.Reason, time.Time{}
		st.UpdatedAt = now
		return nil
	})
	if uerr != nil {
		return nil, true, fmt.Errorf("record payment refusal: %w", uerr)
	}
	switch out.Reason {
	case ReasonInsufficient, ReasonSourceInvalid:
		return st, false, nil // the next source, if any
	case ReasonLimitPerPayment, ReasonLimitDaily, ReasonConfirmRequired:
		// Over a password-free limit, or a signer who confirms first: not
		// frictionless. The patient confirms at the kiosk, then it is paid.
		st, err := s.finishPay(ctx, st, PayConfirmRequired, out.Reason, out.Message)
		return st, true, err
	}
	st, err = s.finishPay(ctx, st, PayPending, out.Reason, out.Message)
	return st, true, err
}

// order returns the stored order with the id, which exists.
func (p *PaymentLeg) order(id string) *PayOrderRecord {
	for i := range p.Orders {
		if p.Orders[i].OrderID == id {
			return &p.Orders[i]
		}
	}
	p.Orders = append(p.Orders, PayOrderRecord{OrderID: id})
	return &p.Orders[len(p.Orders)-1]
}

// finishPay ends the payment leg without (or before) a payment: nothing to
// pay, pending, or awaiting the patient's confirmation. The insured part
// stands either way.
func (s *Service) finishPay(ctx context.Context, cur *Settlement, status, reason, message string) (*Settlement, error) {
	st, err := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
		now := s.clock.Now()
		st.Pay.Status, st.Pay.Reason, st.Pay.Message = status, reason, message
		st.Tries, st.NextTry = 0, time.Time{}
		note := "nothing for the patient to pay"
		if status != PayNone {
			note = "patient's part " + status
			if reason != "" {
				note += ": " + reason
			}
		}
		st.transition(now, StateSettled, note)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record payment leg: %w", err)
	}
	s.announce(st)
	return st, nil
}

// payLater leaves the leg due: the channel could not be reached, and the
// forwarder tries again after a backoff.
func (s *Service) payLater(ctx context.Context, cur *Settlement, cause error) (*Settlement, error) {
	st, err := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
		now := s.clock.Now()
		if st.Pay.Status != PayPaying {
			st.Pay.Status = PayDue
		}
		st.Pay.Message = cause.Error()
		st.Tries++
		st.NextTry = now.Add(s.backoff(st.Tries))
		st.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record payment due: %w", err)
	}
	s.log.Warn("payment channel not reached; the forwarder tries again", "id", st.ID, "err", cause)
	s.wakeForwarder()
	return st, nil
}

func (s *Service) payLaterDone(ctx context.Context, cur *Settlement, cause error) (*Settlement, bool, error) {
	st, err := s.payLater(ctx, cur, cause)
	return st, true, err
}

// updatePay updates the payment leg alone.
func (s *Service) updatePay(ctx context.Context, id string, fn func(*PaymentLeg)) (*Settlement, error) {
	return s.update(ctx, id, func(st *Settlement, _ MsgidAllocator) error {
		fn(&st.Pay)
		return nil
	})
}

// ConfirmPayment records that the patient confirmed, at the kiosk, a part
// that needs it (a confirm-first family bill, a part over the
// password-free limit), and takes it.
func (s *Service) ConfirmPayment(ctx context.Context, id string, op Operator) (*Settlement, error) {
	ctx = context.WithoutCancel(ctx)
	if err := op.Validate(); err != nil {
		return nil, err
	}
	unlock := s.locks.lock(id)
	defer unlock()
	cur, err := s.update(ctx, id, func(st *Settlement, _ MsgidAllocator) error {
		if st.State != StateSettled || (st.Pay.Status != PayConfirmRequired && st.Pay.Status != PayPending) {
			return fmt.Errorf("%w: settlement %s is %s with its part %s: nothing to confirm", ErrConflict, st.ID, st.State, st.Pay.Status)
		}
		now := s.clock.Now()
		st.Pay.Confirmed, st.Pay.Status, st.Pay.Reason = true, PayDue, ""
		st.transition(now, StatePaying, "confirmed by "+op.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.pay(ctx, cur)
}

// CollectRequest records a part paid by another channel.
type CollectRequest struct {
	ID        string
	Channel   string // CollectCash, CollectWeChat, CollectAlipay, CollectCard
	Reference string // the channel's transaction number; none for cash
	Operator  Operator
}

// Collect records the patient's part as paid at the window or the kiosk
// by another channel, so that the day's books close.
func (s *Service) Collect(ctx context.Context, r CollectRequest) (*Settlement, error) {
	ctx = context.WithoutCancel(ctx)
	if err := r.Operator.Validate(); err != nil {
		return nil, err
	}
	switch r.Channel {
	case CollectCash, CollectWeChat, CollectAlipay, CollectCard:
	default:
		return nil, fmt.Errorf("%w: channel must be cash, wechat, alipay or card", ErrInvalid)
	}
	if r.Channel != CollectCash {
		if err := checkText("reference", r.Reference, MaxReferenceLen, true); err != nil {
			return nil, err
		}
	} else if err := checkText("reference", r.Reference, MaxReferenceLen, false); err != nil {
		return nil, err
	}
	unlock := s.locks.lock(r.ID)
	defer unlock()
	st, err := s.update(ctx, r.ID, func(st *Settlement, _ MsgidAllocator) error {
		switch {
		case st.State != StateSettled && st.State != StateArrears:
			return fmt.Errorf("%w: settlement %s is %s: only a settled bill's part, or arrears, can be collected", ErrConflict, st.ID, st.State)
		case st.State == StateSettled && st.Pay.Status != PayPending && st.Pay.Status != PayConfirmRequired:
			return fmt.Errorf("%w: settlement %s has its part %s: nothing to collect", ErrConflict, st.ID, st.Pay.Status)
		}
		now := s.clock.Now()
		amount := st.Pay.Amount
		if st.State == StateArrears {
			amount = st.Bill.Total() // declined by the platform: the whole bill is the patient's
		}
		st.Pay.Status, st.Pay.Reason = PayCollected, ""
		st.Pay.Collected = &Collection{Channel: r.Channel, Reference: r.Reference, Amount: amount, Operator: r.Operator, At: now}
		st.UpdatedAt = now
		st.Events = append(st.Events, Event{At: now, State: st.State, Note: fmt.Sprintf("%s collected by %s (%s)", amount, r.Channel, r.Operator.ID)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.announce(st)
	return st, nil
}

func isUnreachable(err error) bool { return errors.Is(err, ErrUnreachable) }
