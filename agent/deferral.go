package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Failure codes of deferral and reversal.
const (
	FailOfflineLimit = "OFFLINE_LIMIT"
	FailReversed     = "REVERSED"
)

// policyValue is the journal value holding the policy last fetched.
const policyValue = "policy"

// deferOrRefuse defers cur if every offline limit holds, with an estimated
// split; otherwise it records the refusal, naming the limit. Either way
// the result is an answer for the caller, not an error.
func (s *Service) deferOrRefuse(ctx context.Context, cur *Settlement, why string) (*Settlement, error) {
	now := s.clock.Now()
	// The decision and the bill's place in the backlog are taken together
	// under the backlog's lock, so that two bills deciding at once each
	// see the other; the journal's write then happens outside it, shared
	// with the writes of other bills (group commit). Should the write
	// fail, the place is given back.
	if err := s.backlog.ready(ctx, s); err != nil {
		return nil, err
	}
	d := s.deferral(ctx, cur, why, now)
	st, err := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
		d.decide(st)
		return nil
	})
	if err != nil {
		d.undo()
		what := "deferral"
		if d.refused != nil {
			what = "offline refusal"
		}
		return nil, fmt.Errorf("record %s: %w", what, err)
	}
	s.deferred(st, d)
	return st, nil
}

// deferralDecision is a bill's deferral decided in the write that records
// it: deferred with an estimated split if every offline limit holds, its
// place in the backlog taken at once, else failed naming the limit.
type deferralDecision struct {
	s        *Service
	why      string
	now      time.Time
	estimate InsuranceSplit
	place    *backlogEntry // the place taken, nil when refused
	refused  *LimitError
}

// deferral prepares the decision on st, its split estimated now (from
// the journal, outside the write); the backlog cache must be loaded.
func (s *Service) deferral(ctx context.Context, st *Settlement, why string, now time.Time) *deferralDecision {
	return &deferralDecision{s: s, why: why, now: now, estimate: s.estimate(ctx, st)}
}

// decide decides on st and records the outcome in it. The decision and
// the bill's place are taken together under the backlog's lock, so that
// two bills deciding at once each see the other; the write then happens
// outside it, shared with the writes of other bills (group commit). A
// write that runs its function again (a batch retried) decides again,
// the place first given back.
func (d *deferralDecision) decide(st *Settlement) {
	d.undo()
	place := &backlogEntry{id: st.ID, patient: st.PatientRef, amount: st.Bill.Total(), at: d.now}
	d.refused = d.s.backlog.take(place, func(b *Backlog) *LimitError { return d.s.offline.Check(*b, st, d.now) })
	if d.refused != nil {
		st.Error = &Failure{Code: FailOfflineLimit, Message: d.why + "; " + d.refused.Error()}
		st.transition(d.now, StateFailed, FailOfflineLimit+" "+d.refused.Limit)
		return
	}
	d.place = place
	st.DeferredAt, st.Error = d.now, nil
	st.Split = d.estimate
	st.Pay = PaymentLeg{Confirmed: st.Pay.Confirmed}
	st.transition(d.now, StateDeferred, d.why)
}

// undo gives back the place taken, when the write did not happen.
func (d *deferralDecision) undo() {
	if d.place != nil {
		d.s.backlog.release(d.place)
		d.place = nil
	}
}

// deferred tells of a decision recorded in st.
func (s *Service) deferred(st *Settlement, d *deferralDecision) {
	if d.refused != nil {
		s.log.Warn("bill not deferred", "id", st.ID, "limit", d.refused.Limit)
		s.announce(st)
		return
	}
	s.log.Info("bill deferred", "id", st.ID, "total", st.Bill.Total().String())
	s.announce(st)
	s.wakeForwarder()
}

// estimate is a deferred bill's provisional split, from the policy last
// fetched (none yet: no fund share), for the patient's insurance type when
// an earlier attempt learnt it.
func (s *Service) estimate(ctx context.Context, st *Settlement) InsuranceSplit {
	pol, _ := s.Policy(ctx)
	insutype := st.Insutype
	if insutype == "" {
		insutype = s.offline.EstimateInsutype
	}
	return Estimate(pol, insutype, st.Bill)
}

// Pending lists the settlements that need the platform: deferred bills,
// settlement requests in doubt or unsent after a crash, reversals and
// refunds under way; oldest first.
func (s *Service) Pending(ctx context.Context) ([]*Settlement, error) {
	list, err := s.journal.List(ctx, ListFilter{States: pendingStates})
	if err != nil {
		return nil, err
	}
	// Oldest first, in the order the bills were accepted: the order of the
	// visits, which is the order a patient's bills must reach the platform
	// in (daily limits and deductibles depend on it).
	slices.Reverse(list) // List is newest first
	return list, nil
}

// Forward drives one pending settlement with the platform: a deferred
// bill is settled (or becomes arrears), an in-doubt one is resent or
// reversed, a refund is resent.
func (s *Service) Forward(ctx context.Context, id string) (*Settlement, error) {
	// Read under the bill's lock: it may have moved while we waited.
	unlock := s.locks.lock(id)
	cur, err := s.journal.Get(ctx, id)
	if err != nil {
		unlock()
		return nil, err
	}
	if cur.State == StateRefunding {
		unlock() // Refund takes the lock itself
		return s.Refund(ctx, RefundRequest{ID: id, Operator: cur.Refund.Operator, Reason: cur.Refund.Reason})
	}
	defer unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.stepTimeout)
	defer cancel()
	switch cur.State {
	case StateAccepted:
		// Accepted and never driven: the process ended between the
		// journal's write and the first step. It goes on as its caller
		// would have had it, online first and deferred if allowed.
		return s.drive(wctx, cur, false)
	case StateDeferred, StateSettling, StateInDoubt, StateReversing:
		return s.drive(wctx, cur, true)
	case StatePaying:
		return s.pay(wctx, cur)
	}
	return cur, nil
}

// reverse gives up an unanswered settlement request: a reversal (2601)
// naming its msgid is sent under a msgid of its own until answered. Both
// answers resolve it: reversed (it had been booked) or NOT_FOUND (it never
// was; the platform then refuses the original if it arrives late). Only
// then may the bill be settled again, under a new msgid.
func (s *Service) reverse(ctx context.Context, cur *Settlement) (*Settlement, error) {
	if cur.State != StateReversing {
		var err error
		cur, err = s.update(ctx, cur.ID, func(st *Settlement, ids MsgidAllocator) error {
			id, err := ids.Next()
			if err != nil {
				return err
			}
			st.Msgids[StepReverse] = id
			st.transition(s.clock.Now(), StateReversing, "no answer since "+st.InDoubtSince.Format(time.DateTime))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record reversal: %w", err)
		}
	}
	omsgid := cur.Msgids[StepSettle]
	x, err := exchange(cur, StepReverse)
	if err != nil {
		return nil, err
	}
	rev, err := s.insurance.Reverse(ctx, ReverseRequest{Exchange: x, PsnNo: cur.Personal.PsnNo, Of: omsgid, What: ReverseSettle})
	r, isRefusal := refusal(err)
	switch {
	case err == nil:
	case isRefusal && r.Kind == RefusedNotFound:
		err, rev = nil, Reversal{Found: false}
	case isRefusal && r.Processed():
		// Refused for good: an operator must look (reconciliation lists it).
		return s.stopReversal(ctx, cur, Failure{Code: FailRefused, Kind: r.Kind, Message: "reversal refused: " + r.Message}, false)
	default:
		return s.stopReversal(ctx, cur, Failure{Code: FailUnreachable, Message: "reversal not answered yet: " + err.Error()}, true)
	}
	booked := rev.Found
	estimate := s.estimate(ctx, cur)
	st, err := s.update(ctx, cur.ID, func(st *Settlement, ids MsgidAllocator) error {
		next, err := ids.Next()
		if err != nil {
			return err
		}
		now := s.clock.Now()
		st.PriorMsgids = append(st.PriorMsgids, omsgid)
		st.Msgids[StepSettle] = next
		delete(st.Msgids, StepReverse)
		st.Attempt++
		st.InDoubtSince, st.Tries, st.NextTry = time.Time{}, 0, time.Time{}
		note := fmt.Sprintf("reversed %s (booked: %v)", omsgid, booked)
		if !st.DeferredAt.IsZero() {
			st.Error = nil
			st.Split, st.Pay = estimate, PaymentLeg{Confirmed: st.Pay.Confirmed} // nothing is settled
			st.transition(now, StateDeferred, note)
			return nil
		}
		st.Error = &Failure{Code: FailReversed, Message: "the platform never answered; the attempt was reversed and nothing is booked: submit the bill again (same key)"}
		st.transition(now, StateFailed, note)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record reversal result: %w", err)
	}
	s.log.Warn("unanswered settlement reversed", "id", st.ID, "msgid", omsgid, "was_booked", booked)
	s.announce(st)
	if st.State == StateDeferred {
		s.wakeForwarder()
	}
	return st, nil
}

// stopReversal records why a reversal did not finish. It is tried again
// after a backoff either way: a refused reversal (retry false) waits for
// an operator, who sees its error, but is not resent on every pass.
func (s *Service) stopReversal(ctx context.Context, cur *Settlement, fail Failure, retry bool) (*Settlement, error) {
	st, err := s.update(ctx, cur.ID, func(st *Settlement, _ MsgidAllocator) error {
		now := s.clock.Now()
		st.Error = &fail
		st.UpdatedAt = now
		st.Tries++
		wait := s.backoff(st.Tries)
		if !retry {
			wait = s.maxBackoff
		}
		st.NextTry = now.Add(wait)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.announce(st)
	return st, nil
}

// Void cancels a deferred bill that was never sent: the patient paid
// another way, or the HIS cancelled the visit.
func (s *Service) Void(ctx context.Context, id string, op Operator, reason string) (*Settlement, error) {
	ctx = context.WithoutCancel(ctx) // recorded whether or not the caller waits
	if err := op.Validate(); err != nil {
		return nil, err
	}
	unlock := s.locks.lock(id)
	defer unlock()
	st, err := s.update(ctx, id, func(st *Settlement, _ MsgidAllocator) error {
		// A deferred bill has no settlement request outstanding: it was
		// never sent, or its attempt was reversed. Voiding it is safe.
		if st.State != StateDeferred {
			return fmt.Errorf("%w: settlement %s is %s; only a deferred bill can be voided", ErrConflict, st.ID, st.State)
		}
		st.Error = nil
		st.transition(s.clock.Now(), StateVoided, fmt.Sprintf("voided by %s: %s", op.ID, reason))
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.announce(st)
	return st, nil
}

// Policy returns the platform policy last fetched, for offline estimates.
func (s *Service) Policy(ctx context.Context) (Policy, error) {
	var p Policy
	raw, err := s.journal.Value(ctx, policyValue)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("stored policy: %w", err)
	}
	return p, nil
}

// FetchPolicy asks the platform for its policy and keeps it.
func (s *Service) FetchPolicy(ctx context.Context) (Policy, error) {
	x, err := s.ownExchange(ctx)
	if err != nil {
		return Policy{}, err
	}
	p, err := s.insurance.Policy(ctx, x)
	if err != nil {
		return Policy{}, fmt.Errorf("fetch policy: %w", err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return Policy{}, err
	}
	if err := s.journal.SetValue(ctx, policyValue, raw); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// ownExchange is the Exchange of a request that belongs to no settlement
// (policy, trust list, reconciliation), under a msgid allocated for it.
func (s *Service) ownExchange(ctx context.Context) (Exchange, error) {
	msgid, err := s.journal.AllocateMsgid(ctx)
	if err != nil {
		return Exchange{}, err
	}
	return Exchange{Msgid: msgid, Operator: Operator{ID: s.header.TerminalID, Name: s.header.TerminalID, Type: OpterKiosk}}, nil
}

// RunPolicyRefresh keeps the platform's policy fresh for offline
// estimates: fetched at start (retried with backoff while the platform is
// unreachable) and every six hours after.
func (s *Service) RunPolicyRefresh(ctx context.Context) error {
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.clock.After(wait):
		}
		if _, err := s.FetchPolicy(ctx); err != nil {
			wait = min(2*wait+5*time.Second, 10*time.Minute)
			s.log.Warn("policy not refreshed", "err", err, "retry_in", wait)
			continue
		}
		wait = 6 * time.Hour
	}
}
