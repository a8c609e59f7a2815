package agent

import (
	"context"
	"fmt"
	"time"
)

// RefundRequest cancels a settled bill (退费): every part goes back where
// it came from.
type RefundRequest struct {
	ID       string
	Operator Operator
	Reason   string
}

// Refund returns a settled bill, each part to where it came from: the
// insured part cancelled with the platform (2208), then what the payment
// channel took given back by the channel (a cancel on its clearing day, a
// refund after), or, for a part collected at the window, marked to be
// given back there. A part that was never taken is never said to be
// refunded. It is idempotent: a refunded settlement is returned as it is,
// and a refund under way goes on under the msgid and orders it stored.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (*Settlement, error) {
	// Like a settlement, a refund runs to its end whether or not the
	// caller waits for it.
	ctx = context.WithoutCancel(ctx)
	if err := req.Operator.Validate(); err != nil {
		return nil, err
	}
	if err := checkText("reason", req.Reason, MaxReasonLen, false); err != nil {
		return nil, err
	}
	unlock := s.locks.lock(req.ID)
	defer unlock()
	cur, err := s.journal.Get(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	switch cur.State {
	case StateRefunded:
		return cur, nil
	case StateRefunding:
	case StateSettled:
		cur, err = s.update(ctx, cur.ID, func(st *Settlement, ids MsgidAllocator) error {
			if st.Msgids[StepCancel] == "" {
				id, err := ids.Next()
				if err != nil {
					return err
				}
				st.Msgids[StepCancel] = id
			}
			now := s.clock.Now()
			st.Refund = &Refund{State: StateRefunding, Operator: req.Operator, Reason: req.Reason, Requested: now}
			st.transition(now, StateRefunding, req.Reason)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record refund request: %w", err)
		}
		s.announce(cur)
	default:
		return cur, fmt.Errorf("%w: settlement %s is %s; only a settled bill can be refunded", ErrConflict, cur.ID, cur.State)
	}
	wctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()
	if !cur.Refund.Insured {
		if cur, err = s.cancelInsured(wctx, cur); err != nil || cur.State != StateRefunding {
			return cur, err
		}
	}
	return s.returnPayment(wctx, cur)
}

// cancelInsured cancels the insured part (2208) under its msgid.
func (s *Service) cancelInsured(ctx context.Context, cur *Settlement) (*Settlement, error) {
	x, err := exchange(cur, StepCancel)
	if err != nil {
		return nil, err
	}
	x.Operator = cur.Refund.Operator
	b, err := s.insurance.Cancel(ctx, CancelRequest{Exchange: x, SetlID: cur.SetlID, MdtrtID: cur.MdtrtID, PsnNo: cur.Personal.PsnNo})
	if err == nil {
		err = checkSplit(b.Split, cur.Split.Total)
	}
	r, isRefusal := refusal(err)
	switch {
	case err == nil || (isRefusal && r.Kind == RefusedDuplicate):
		// Cancelled now, or by an earlier attempt whose answer was lost.
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			st.Refund.Insured, st.Refund.Error = true, nil
			if err == nil {
				st.Refund.Split, st.Refund.SetlID = b.Split, b.SetlID
			}
			st.Tries, st.NextTry = 0, time.Time{}
			st.UpdatedAt = s.clock.Now()
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		return st, nil
	case isRefusal && r.Processed():
		// Refused for good (not found, not refundable): the settlement
		// stays as it was and the refusal is recorded.
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			st.Refund.State = StateDeclined
			st.Refund.Error = &Failure{Code: FailDeclined, Kind: r.Kind, Message: r.Message}
			delete(st.Msgids, StepCancel)
			st.transition(s.clock.Now(), StateSettled, "refund declined: "+r.Kind)
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		s.announce(st)
		return st, fmt.Errorf("%w: refund declined by the platform: %s", ErrConflict, r.Message)
	default:
		// Unanswered: stays refunding; asking again resends the same msgid.
		state, fail := classify(err, true)
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			st.Refund.Error = &fail
			st.Refund.State = state
			st.Tries++
			st.NextTry = s.clock.Now().Add(s.backoff(st.Tries))
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		s.announce(st) // still refunding: the forwarder's attempt has an outcome all the same
		return st, fmt.Errorf("refund not confirmed yet (%s): %w", fail.Code, err)
	}
}

// returnPayment gives back what the payment leg took, where it took it
// from, once the insured part is cancelled, and ends the refund.
func (s *Service) returnPayment(ctx context.Context, cur *Settlement) (*Settlement, error) {
	byChannel, atWindow := cur.Pay.Taken()
	switch {
	case byChannel && cur.Pay.Legacy:
		return s.endRefund(ctx, cur, PayReturned, "returned by the platform's cancellation")
	case atWindow:
		return s.endRefund(ctx, cur, PayReturnAtWindow, "what was collected by "+cur.Pay.Collected.Channel+" is given back at the window")
	case !byChannel && cur.Pay.Status != PayReturning:
		status := PayNotTaken
		if cur.Pay.Amount == 0 {
			status = PayNone
		}
		return s.endRefund(ctx, cur, status, "")
	}
	paid := cur.Pay.paidOrder()
	if paid == nil {
		return nil, fmt.Errorf("settlement %s: paid, but no order took the money", cur.ID)
	}
	ret := cur.Pay.lastOrder(OrderCancel)
	if r := cur.Pay.lastOrder(OrderRefund); r != nil {
		ret = r
	}
	if ret == nil || ret.Status == OrderRefused {
		// A cancel undoes a payment on its own clearing day, in full; a
		// refund returns it later.
		kind := OrderRefund
		if formatDate(paid.TxnTime) == formatDate(s.clock.Now()) && (ret == nil || ret.Kind != OrderCancel) {
			kind = OrderCancel
		}
		var err error
		cur, err = s.update(ctx, cur.ID, func(st *Settlement, ids MsgidAllocator) error {
			id, err := ids.Next()
			if err != nil {
				return err
			}
			st.Pay.Status = PayReturning
			st.Pay.Orders = append(st.Pay.Orders, PayOrderRecord{Kind: kind, OrderID: id, TxnTime: s.clock.Now(),
				Amount: paid.Amount, Source: paid.Source, Status: OrderAllocated})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record payment return order: %w", err)
		}
		ret = cur.Pay.lastOrder(kind)
	}
	if ret.Status == OrderSucceeded {
		return s.endRefund(ctx, cur, PayReturned, "")
	}
	var out PayOutcome
	var err error
	if ret.Status == OrderUnknown {
		out, err = s.payment.Query(ctx, OrderRef{OrderID: ret.OrderID, TxnTime: ret.TxnTime})
	}
	if ret.Status == OrderAllocated || (err == nil && out.Status == PayRefused && out.Reason == ReasonNotFound) {
		r := PayReversal{OrderRef: OrderRef{OrderID: ret.OrderID, TxnTime: ret.TxnTime},
			Original: OrderRef{OrderID: paid.OrderID, TxnTime: paid.TxnTime}, OriginalQID: paid.QueryID, Amount: ret.Amount}
		if ret.Kind == OrderCancel {
			out, err = s.payment.CancelPayment(ctx, r)
		} else {
			out, err = s.payment.RefundPayment(ctx, r)
		}
	}
	now := s.clock.Now()
	switch {
	case err == nil && out.Status == PaySucceeded:
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			o := st.Pay.order(ret.OrderID)
			o.Status, o.QueryID = OrderSucceeded, out.QueryID
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		return s.endRefund(ctx, st, PayReturned, "")
	case err == nil && out.Status == PayRefused:
		// A cancel refused (past its clearing day, say) is followed by a
		// refund; a refund refused waits for an operator.
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			o := st.Pay.order(ret.OrderID)
			o.Status, o.Reason = OrderRefused, out.Reason
			st.Refund.Error = &Failure{Code: FailRefused, Kind: out.Reason, Message: "the payment channel refused to return the patient's part: " + out.Message}
			st.Tries++
			st.NextTry = now.Add(s.backoff(st.Tries))
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		if ret.Kind == OrderCancel {
			return s.returnPayment(ctx, st)
		}
		s.announce(st)
		return st, fmt.Errorf("%w: the payment channel refused to return the patient's part: %s", ErrConflict, out.Message)
	default:
		// Unknown or unreachable: queried (or sent again) by the forwarder.
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			o := st.Pay.order(ret.OrderID)
			if err == nil || !isUnreachable(err) {
				o.Status = OrderUnknown
				o.Queries++
				o.NextQuery = now.Add(queryDelay(o.Queries))
				st.NextTry = o.NextQuery
			} else {
				st.Tries++
				st.NextTry = now.Add(s.backoff(st.Tries))
			}
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		s.announce(st)
		if err == nil {
			err = fmt.Errorf("the payment channel has not said yet")
		}
		return st, fmt.Errorf("refund of the patient's part not confirmed yet: %w", err)
	}
}

// endRefund records the refund done, the payment leg at status.
func (s *Service) endRefund(ctx context.Context, cur *Settlement, status, note string) (*Settlement, error) {
	st, err := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
		now := s.clock.Now()
		st.Refund.State, st.Refund.At, st.Refund.Error = StateRefunded, now, nil
		st.Pay.Status = status
		st.Tries, st.NextTry = 0, time.Time{}
		st.transition(now, StateRefunded, note)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.announce(st)
	return st, nil
}
