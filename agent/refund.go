package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// RefundRequest cancels a settled bill (退费): every part goes back where
// it came from.
type RefundRequest struct {
	ID       string
	Operator Operator
	Reason   string
}

// Refund cancels a settlement with the platform (2208). It is idempotent: a
// refunded settlement is returned as it is, and a refund that was started
// but not answered is resent under its msgid.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (*Settlement, error) {
	// Like a settlement, a refund runs to its end whether or not the
	// caller waits for it.
	ctx = context.WithoutCancel(ctx)
	if err := req.Operator.Validate(); err != nil {
		return nil, err
	}
	if len(req.Reason) > maxFieldLen {
		return nil, fmt.Errorf("%w: reason too long", ErrInvalid)
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
			if st.Msgids[protocol.CancelSettle.Infno] == "" {
				id, err := ids.Next()
				if err != nil {
					return err
				}
				st.Msgids[protocol.CancelSettle.Infno] = id
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

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.stepTimeout)
	defer cancel()
	res, err := send(wctx, s.platform, protocol.CancelSettle, cur.Msgids[protocol.CancelSettle.Infno], cur.InsuplcAdmdvs, cur.Refund.Operator,
		protocol.CancelInput{Data: protocol.CancelData{SetlID: cur.SetlID, MdtrtID: cur.MdtrtID, PsnNo: cur.Personal.PsnNo}})
	var split Split
	if err == nil {
		split, err = splitOf(res.Setlinfo, cur.Split.Total)
	}
	var perr *protocol.Error
	switch {
	case err == nil || (errors.As(err, &perr) && perr.Code == protocol.CodeAlreadyRefunded):
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			now := s.clock.Now()
			st.Refund.State, st.Refund.At, st.Refund.Error = StateRefunded, now, nil
			st.Tries, st.NextTry = 0, time.Time{}
			if err == nil {
				st.Refund.Split, st.Refund.SetlID = split, res.Setlinfo.SetlID
			}
			st.Payment.Status = PayRefunded
			st.transition(now, StateRefunded, "")
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		s.announce(st)
		return st, nil
	case errors.As(err, &perr) && perr.Processed():
		// Refused for good (not found, not refundable): the settlement
		// stays as it was and the refusal is recorded.
		st, uerr := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
			st.Refund.State = StateDeclined
			st.Refund.Error = &Failure{Code: perr.Code, Message: perr.Message}
			delete(st.Msgids, protocol.CancelSettle.Infno)
			st.transition(s.clock.Now(), StateSettled, "refund declined: "+perr.Code)
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		s.announce(st)
		return st, fmt.Errorf("%w: refund declined by the platform: %s", ErrConflict, perr.Message)
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
