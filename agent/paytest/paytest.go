// Package paytest is the contract of agent.PaymentChannel: one
// specification, run against every implementation (the in-memory fake of
// agent/agenttest, and the unionpay adapter talking to the sandbox
// channel over loopback), so that the fake cannot drift from the real
// thing and the adapter cannot drift from the rules.
//
// The specification names patients by persona key (sync/sandbox/personas):
// "bank-card" is a signer whose bank card pays, "family-confirm" a spouse
// covered confirm-first, and so on. A harness maps the keys to the
// patients its channel knows, with the same agreements.
package paytest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
)

// Beijing is the channel's day.
var Beijing = time.FixedZone("CST", 8*3600)

// Start is where every harness's channel clock starts: 10:00 on a
// Tuesday in Beijing, hours from either midnight.
var Start = time.Date(2026, 3, 10, 10, 0, 0, 0, Beijing)

// Harness is one implementation under test, freshly opened: its state is
// the seeded agreements and nothing else.
type Harness struct {
	Channel agent.PaymentChannel
	// Clock is the channel's clock, at Start; the specification moves it
	// (to the next day, for limits per day and refunds).
	Clock *clock.Fake
	// Patient is the persona's identity: ID number and name.
	Patient func(key string) agent.AgreementQuery
	// AnswerUnknownNext makes the next n payments answer "unknown" (05),
	// decided and booked as always.
	AnswerUnknownNext func(n int)
	// LoseNext makes the next n answers lost after the channel acted.
	LoseNext func(n int)
	// Balance is the channel's balance of a source, by token.
	Balance func(token string) money.Fen
	// Booked is how many times an order moved money: 0 or 1.
	Booked func(orderID string) int
}

// Run runs the specification; open makes a fresh harness for each case.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	for _, c := range specs {
		t.Run(c.name, func(t *testing.T) {
			s := &spec{T: t, Harness: open(t)}
			c.run(s)
		})
	}
}

type specCase struct {
	name string
	run  func(s *spec)
}

// spec is one case's state and helpers.
type spec struct {
	*testing.T
	Harness
	orders int
}

func (s *spec) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s.Cleanup(cancel)
	return ctx
}

// agreement looks a persona's agreement up, which must exist.
func (s *spec) agreement(key string) agent.Agreement {
	s.Helper()
	a, err := s.Channel.Agreement(s.ctx(), s.Patient(key))
	if err != nil {
		s.Fatalf("agreement of %s: %v", key, err)
	}
	return a
}

// source is the agreement's first source of kind.
func (s *spec) source(a agent.Agreement, kind string) agent.PaySource {
	s.Helper()
	for _, src := range a.Sources {
		if src.Kind == kind {
			return src
		}
	}
	s.Fatalf("agreement %s has no %s: %+v", a.ID, kind, a.Sources)
	return agent.PaySource{}
}

// order is a new payment order from a's src, at the clock's time.
func (s *spec) order(a agent.Agreement, src agent.PaySource, amount money.Fen) agent.PayOrder {
	s.orders++
	return agent.PayOrder{
		OrderRef:    agent.OrderRef{OrderID: fmt.Sprintf("MT%s%04d", s.Clock.Now().In(Beijing).Format("060102150405"), s.orders), TxnTime: s.Clock.Now().Truncate(time.Second)},
		Amount:      amount,
		AgreementID: a.ID,
		Source:      src,
		Settlement:  fmt.Sprintf("S%06d", s.orders),
	}
}

// reversal is a new cancel or refund order of a paid order.
func (s *spec) reversal(paid agent.PayOrder, out agent.PayOutcome, amount money.Fen) agent.PayReversal {
	s.orders++
	return agent.PayReversal{
		OrderRef:    agent.OrderRef{OrderID: fmt.Sprintf("MR%s%04d", s.Clock.Now().In(Beijing).Format("060102150405"), s.orders), TxnTime: s.Clock.Now().Truncate(time.Second)},
		Original:    paid.OrderRef,
		OriginalQID: out.QueryID,
		Amount:      amount,
	}
}

// pay pays o and wants the outcome status (and reason, for a refusal).
func (s *spec) pay(o agent.PayOrder, status, reason string) agent.PayOutcome {
	s.Helper()
	out, err := s.Channel.Pay(s.ctx(), o)
	if err != nil {
		s.Fatalf("pay %s of %s: %v", o.OrderID, o.Amount, err)
	}
	s.want("pay "+o.Amount.String(), out, status, reason)
	if status == agent.PaySucceeded && (out.QueryID == "" || out.Amount != o.Amount) {
		s.Fatalf("pay %s: a success without its queryId or amount: %+v", o.OrderID, out)
	}
	return out
}

func (s *spec) want(what string, out agent.PayOutcome, status, reason string) {
	s.Helper()
	if out.Status != status || (status == agent.PayRefused && out.Reason != reason) {
		s.Fatalf("%s: %s/%s (%s), want %s/%s", what, out.Status, out.Reason, out.Message, status, reason)
	}
}

func (s *spec) reverse(cancel bool, r agent.PayReversal, status string) agent.PayOutcome {
	s.Helper()
	f, what := s.Channel.RefundPayment, "refund"
	if cancel {
		f, what = s.Channel.CancelPayment, "cancel"
	}
	out, err := f(s.ctx(), r)
	if err != nil {
		s.Fatalf("%s %s of %s: %v", what, r.OrderID, r.Amount, err)
	}
	s.want(what+" "+r.Amount.String(), out, status, agent.ReasonOther)
	return out
}

func (s *spec) wantBalance(token string, want money.Fen) {
	s.Helper()
	if got := s.Balance(token); got != want {
		s.Fatalf("balance %s, want %s", got, want)
	}
}

func (s *spec) wantErr(what string, err, want error) {
	s.Helper()
	if !errors.Is(err, want) {
		s.Fatalf("%s: err %v, want %v", what, err, want)
	}
}

// nextDay moves the clock to the same time on the next Beijing day.
func (s *spec) nextDay() { s.Clock.Advance(24 * time.Hour) }

// later moves the clock a minute on, so bookings have distinct times.
func (s *spec) later() { s.Clock.Advance(time.Minute) }
