package stacktest_test

// Faults of the payment leg: the patient's own part is taken through the
// payment channel after the insurance platform booked the insured part.
// Whatever fails (an answer lost, an outcome unknown, the channel away, the
// agent killed between the legs), the insured part stands, the part is
// taken exactly once, and a refund gives it back where it came from. Every
// test ends with both ledgers held against the journal (assertLedgers).

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Found by the model-based test: a bill whose agreement could not be
// looked up (the channel away) was pre-settled with the personal account
// paying first, the rollout's default; its settlement request went
// unanswered and was reversed; submitted again with the channel back, it
// was pre-settled the way the agreement asks (the account not first)
// under the same 2206 msgid, which the platform refused as reused for a
// different request, and the bill was declined.
func TestABillPreSettledWhileTheChannelWasAwaySettlesAgainAfterItsReversal(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{PaymentProxy: true, RetryWindow: 200 * time.Millisecond, InDoubtWindow: time.Nanosecond})
	ctx := context.Background()
	b := withAmount(body(t, s, "bank-card", 0), 4200) // bank-card: the account does not pay first
	if err := s.PayProxy.Refuse(); err != nil {
		t.Fatal(err)
	}
	s.Faults.DropAnswers(protocol.Settle.Infno, 1000)
	v, err := s.API.Settle(ctx, "away", b)
	if err != nil || v.State != agent.StateInDoubt {
		t.Fatalf("first submission: %v %s; want in doubt", err, v.State)
	}
	s.Faults.Heal()
	if err := s.PayProxy.Heal(); err != nil {
		t.Fatal(err)
	}
	if v, err = s.API.Settle(ctx, "away", b); err != nil || v.State != agent.StateFailed || v.Error.Code != agent.FailReversed {
		t.Fatalf("after the in-doubt window: %v %s %+v; want failed, reversed", err, v.State, v.Error)
	}
	if v, err = s.API.Settle(ctx, "away", b); err != nil || v.State != agent.StateSettled {
		t.Fatalf("submitted again after the reversal: %v %s %+v; want settled", err, v.State, v.Error)
	}
	if v.Pay.Status != agent.PayPaid || v.Pay.Source == nil || v.Pay.Source.Kind != agent.SourceBankCard {
		t.Fatalf("the patient's part: %+v; want paid from the bank card", v.Pay)
	}
	assertLedgerSettlements(t, s, 1)
	assertLedgers(t, s)
}

// payHooks count the agent's calls to its payment adapter and run a test's
// hook before some of them. They live across restarts (Options.WrapPayment
// wraps each new agent's adapter with the same hooks), so a hook that must
// fire once keys on the call's number.
type payHooks struct {
	mu                                 sync.Mutex
	agreements, pays, queries, cancels int
	// Before the n-th call (counted from 1 over the whole test); an error
	// is returned to the agent instead of asking the channel.
	onAgreement, onPay, onCancel func(n int) error
}

func (h *payHooks) wrap(p agent.PaymentChannel) agent.PaymentChannel { return &hookedPayment{p, h} }

func (h *payHooks) count(n *int, hook func(int) error) error {
	h.mu.Lock()
	*n++
	k := *n
	h.mu.Unlock()
	if hook == nil {
		return nil
	}
	return hook(k)
}

func (h *payHooks) counts() (agreements, pays, queries, cancels int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.agreements, h.pays, h.queries, h.cancels
}

type hookedPayment struct {
	agent.PaymentChannel
	h *payHooks
}

func (p *hookedPayment) Agreement(ctx context.Context, q agent.AgreementQuery) (agent.Agreement, error) {
	if err := p.h.count(&p.h.agreements, p.h.onAgreement); err != nil {
		return agent.Agreement{}, err
	}
	return p.PaymentChannel.Agreement(ctx, q)
}

func (p *hookedPayment) Pay(ctx context.Context, o agent.PayOrder) (agent.PayOutcome, error) {
	if err := p.h.count(&p.h.pays, p.h.onPay); err != nil {
		return agent.PayOutcome{}, err
	}
	return p.PaymentChannel.Pay(ctx, o)
}

func (p *hookedPayment) Query(ctx context.Context, o agent.OrderRef) (agent.PayOutcome, error) {
	_ = p.h.count(&p.h.queries, nil)
	return p.PaymentChannel.Query(ctx, o)
}

func (p *hookedPayment) CancelPayment(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	if err := p.h.count(&p.h.cancels, p.h.onCancel); err != nil {
		return agent.PayOutcome{}, err
	}
	return p.PaymentChannel.CancelPayment(ctx, r)
}

// forwardUntil runs forwarder passes until done holds for the settlement,
// waiting between passes until the earliest bill is due (the forwarder's
// own schedule: a query of an unknown outcome, a backoff), as its Run loop
// does.
func forwardUntil(t *testing.T, s *stacktest.Stack, id string, what string, done func(*agent.Settlement) bool) *agent.Settlement {
	t.Helper()
	ctx := context.Background()
	end := time.Now().Add(30 * time.Second)
	for {
		next := s.Forwarder.Pass(ctx, false)
		st, err := s.Service.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if done(st) {
			return st
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not %s after 30 s of forwarding: %s, part %s (%s)", id, what, st.State, st.Pay.Status, st.Pay.Message)
		}
		wait := 10 * time.Millisecond // nothing scheduled: a bill just made due
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		<-time.After(wait)
	}
}

func paid(st *agent.Settlement) bool {
	return st.State == agent.StateSettled && st.Pay.Status == agent.PayPaid
}

// channelOrders returns the channel's booked orders of a settlement: its
// payments and its returns (cancels, refunds).
func channelOrders(t *testing.T, s *stacktest.Stack, st *agent.Settlement) (pays, returns []paychannel.LedgerOrder) {
	t.Helper()
	l, err := s.PayChannel.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, o := range st.Pay.Orders {
		mine[o.OrderID] = true
	}
	for _, o := range l.Orders {
		switch {
		case !mine[o.OrderID] || !o.Booked():
		case o.TxnType == acp.TxnConsume:
			pays = append(pays, o)
		default:
			returns = append(returns, o)
		}
	}
	return pays, returns
}

// wantPaidOnce checks that the patient's part was taken exactly once, by
// one order, for the journal's amount, and that the insured part is booked
// once on the platform.
func wantPaidOnce(t *testing.T, s *stacktest.Stack, st *agent.Settlement) {
	t.Helper()
	if !paid(st) || st.Pay.Amount != st.Split.Cash || st.Pay.Amount <= 0 {
		t.Fatalf("%s: %s, part %s of %s (split cash %s); want settled and paid", st.ID, st.State, st.Pay.Status, st.Pay.Amount, st.Split.Cash)
	}
	pays, returns := channelOrders(t, s, st)
	if len(pays) != 1 || len(returns) != 0 || pays[0].Amount != st.Pay.Amount {
		t.Fatalf("%s: the channel booked %d payments (%+v) and %d returns; want one payment of %s", st.ID, len(pays), pays, len(returns), st.Pay.Amount)
	}
	orders := 0
	for _, o := range st.Pay.Orders {
		if o.Kind == agent.OrderPay {
			orders++
		}
	}
	if orders != 1 || st.Pay.Orders[0].OrderID != pays[0].OrderID {
		t.Fatalf("%s: the journal sent %d payment orders (%+v); want the one the channel booked", st.ID, orders, st.Pay.Orders)
	}
	assertLedgerSettlements(t, s, 1)
}

// An answer lost after the channel booked the payment: the adapter sends
// the same order again and the channel answers it as it did the first
// time; lost again, the outcome is unknown, and the order is queried
// until the channel says. Either way it is booked once.
func TestAPaymentAnswerLostAfterTheChannelBookedIsTakenOnce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lose        int // answers lost; the adapter sends each order twice at most
		wantQueries bool
	}{
		{"the resend answered", 1, false},
		{"both answers lost: queried", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &payHooks{}
			s := stacktest.Start(t, stacktest.Options{WrapPayment: h.wrap})
			h.onPay = func(n int) error {
				if n == 1 {
					s.PayChannel.LoseNext(tc.lose)
				}
				return nil
			}
			ctx := context.Background()
			v, err := s.API.Settle(ctx, "lost-pay", withAmount(body(t, s, "bank-card", 0), 6000))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantQueries && (v.State != agent.StatePaying || v.Pay.Status != agent.PayPaying) {
				t.Fatalf("answered %s, part %s; want paying with the outcome unknown", v.State, v.Pay.Status)
			}
			st := forwardUntil(t, s, v.ID, "paid", paid)
			wantPaidOnce(t, s, st)
			if _, pays, queries, _ := h.counts(); pays != 1 || (queries > 0) != tc.wantQueries {
				t.Fatalf("%d payments sent and %d queries; want one payment, queried: %v", pays, queries, tc.wantQueries)
			}
			assertLedgers(t, s)
		})
	}
}

// The channel books the payment and answers only that its outcome is
// unknown (03, 04, 05): the order is queried on the channel's schedule
// until it says, and never sent again as a new order.
func TestAnUnknownPaymentOutcomeIsQueriedUntilPaid(t *testing.T) {
	for _, code := range []string{acp.CodeTimeout, acp.CodeUnknown, acp.CodeAccepted} {
		t.Run("respCode="+code, func(t *testing.T) {
			h := &payHooks{}
			s := stacktest.Start(t, stacktest.Options{WrapPayment: h.wrap})
			h.onPay = func(n int) error {
				if n == 1 {
					s.PayChannel.AnswerUnknownNext(1, code)
				}
				return nil
			}
			ctx := context.Background()
			v, err := s.API.Settle(ctx, "unknown-pay", withAmount(body(t, s, "bank-card", 0), 4400))
			if err != nil || v.State != agent.StatePaying || v.Pay.Status != agent.PayPaying {
				t.Fatalf("answered %v %s, part %s; want paying with the outcome unknown", err, v.State, v.Pay.Status)
			}
			if v.SetlID == "" {
				t.Fatal("the insured part is not booked while the payment is unknown")
			}
			st := forwardUntil(t, s, v.ID, "paid", paid)
			wantPaidOnce(t, s, st)
			if _, pays, queries, _ := h.counts(); pays != 1 || queries < 1 {
				t.Fatalf("%d payments sent and %d queries; want one payment, queried", pays, queries)
			}
			assertLedgers(t, s)
		})
	}
}

// The payment channel goes away between the legs, right after the
// platform booked the insured part: the insured part stands, the
// patient's part is due, and the forwarder takes it once the channel is
// back, exactly once.
func TestThePaymentChannelUnreachableBetweenTheLegsIsPaidOnceItIsBack(t *testing.T) {
	h := &payHooks{}
	s := stacktest.Start(t, stacktest.Options{PaymentProxy: true, WrapPayment: h.wrap})
	h.onPay = func(n int) error {
		// The payment order, stored once the insured part is booked, is
		// the first request to the channel after the booking.
		if n == 1 {
			// The channel goes away for good; this order is the first to
			// find it gone (a connection kept from before would still
			// carry it, so the hook answers for the channel).
			if err := s.PayProxy.Refuse(); err != nil {
				return err
			}
			return agent.ErrUnreachable
		}
		return nil
	}
	ctx := context.Background()
	v, err := s.API.Settle(ctx, "away-pay", withAmount(body(t, s, "bank-card", 0), 5200))
	if err != nil || v.State != agent.StatePaying || v.Pay.Status != agent.PayDue {
		t.Fatalf("answered %v %s, part %s; want paying with the part due", err, v.State, v.Pay.Status)
	}
	st, err := s.Service.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertLedgerSettlements(t, s, 1) // the insured part stands
	if pays, _ := channelOrders(t, s, st); len(pays) != 0 {
		t.Fatalf("the channel booked %d payments while it was away", len(pays))
	}
	// Still away: the forwarder's attempts change nothing.
	s.Forwarder.Pass(ctx, true)
	if st, _ = s.Service.Get(ctx, v.ID); st.State != agent.StatePaying || st.Pay.Status != agent.PayDue {
		t.Fatalf("after a pass with the channel away: %s, part %s; want still due", st.State, st.Pay.Status)
	}
	if err := s.PayProxy.Heal(); err != nil {
		t.Fatal(err)
	}
	st = forwardUntil(t, s, v.ID, "paid", paid)
	wantPaidOnce(t, s, st)
	// The HIS submitting again is answered the same settlement, paid.
	if again, err := s.API.Settle(ctx, "away-pay", withAmount(body(t, s, "bank-card", 0), 5200)); err != nil || again.ID != v.ID || again.Pay.Status != agent.PayPaid {
		t.Fatalf("submitted again: %v %s %s; want %s paid", err, again.ID, again.Pay.Status, v.ID)
	}
	assertLedgers(t, s)
}

// The agent is killed between the legs: the insured part is booked and
// recorded, and the kill comes before the payment order is sent, or after
// it reached the channel (which books it) and before its answer is
// recorded. The agent started again on its journal finishes the payment
// leg through the forwarder: the part is taken once.
func TestAKillBetweenTheLegsLeavesTheForwarderToTakeThePartOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		// at installs the hook at which the agent is killed; it calls
		// kill, which returns once the new agent runs.
		at func(h *payHooks, kill func())
		// sent: the old agent's request reached the channel.
		sent bool
	}{
		{"before the order was sent", func(h *payHooks, kill func()) {
			h.onPay = func(n int) error {
				if n == 1 { // the order is stored, not yet sent
					kill()
					return agent.ErrUnreachable // a killed agent sends nothing more
				}
				return nil
			}
		}, false},
		{"after the order reached the channel", func(h *payHooks, kill func()) {
			h.onPay = func(n int) error {
				if n == 1 {
					kill() // the old agent's order goes out; its answer finds the journal closed
				}
				return nil
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &payHooks{}
			s := stacktest.Start(t, stacktest.Options{WrapPayment: h.wrap})
			reached, restarted := make(chan struct{}), make(chan struct{})
			var once sync.Once
			tc.at(h, func() {
				once.Do(func() {
					close(reached)
					<-restarted
				})
			})
			ctx := context.Background()
			b := withAmount(body(t, s, "bank-card", 0), 3800)
			cl := s.API // the old agent's
			done := inFlight(func() (api.SettlementView, error) { return cl.Settle(ctx, "killed-pay", b) })
			<-reached
			s.Restart(t)
			close(restarted)
			<-done // the old agent's answer, if any: the caller submits again below
			st, err := s.Journal.ByKey(ctx, "killed-pay")
			if err != nil {
				t.Fatal(err)
			}
			if tc.sent {
				// The old agent's order is on its way: the new one must find
				// it booked, not race it.
				waitUntil(t, "the old agent's order to reach the channel", 10*time.Second, func() bool {
					pays, _ := channelOrders(t, s, st)
					return len(pays) == 1
				})
			}
			if st.State != agent.StatePaying {
				t.Fatalf("after the kill the journal has %s; want paying, the insured part booked", st.State)
			}
			assertLedgerSettlements(t, s, 1)
			st = forwardUntil(t, s, st.ID, "paid", paid)
			wantPaidOnce(t, s, st)
			if _, pays, queries, _ := h.counts(); tc.sent && (pays != 1 || queries < 1) {
				t.Fatalf("%d payments sent and %d queries; want the order sent once and then queried", pays, queries)
			}
			v, err := s.API.Settle(ctx, "killed-pay", b)
			if err != nil || v.ID != st.ID || v.Pay.Status != agent.PayPaid {
				t.Fatalf("submitted again: %v %s %s; want %s paid", err, v.ID, v.Pay.Status, st.ID)
			}
			assertLedgers(t, s)
		})
	}
}

// A refund of a paid bill cancels the insured part with the platform and
// gives the patient's part back on the channel, to the card it was taken
// from; with the channel's answer to the cancel lost, the cancel is
// queried and booked once.
func TestARefundReturnsThePaidPartOnTheChannel(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose int
	}{
		{"answered", 0},
		{"the cancel's answers lost", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &payHooks{}
			s := stacktest.Start(t, stacktest.Options{WrapPayment: h.wrap})
			h.onCancel = func(n int) error {
				if n == 1 && tc.lose > 0 {
					s.PayChannel.LoseNext(tc.lose)
				}
				return nil
			}
			ctx := context.Background()
			v, err := s.API.Settle(ctx, "refund-pay", withAmount(body(t, s, "bank-card", 0), 9000))
			if err != nil || v.Pay.Status != agent.PayPaid {
				t.Fatalf("settled: %v %s, part %s; want paid", err, v.State, v.Pay.Status)
			}
			r, err := s.API.Refund(ctx, v.ID, api.RefundBody{Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk}, Reason: "visit cancelled"})
			if tc.lose == 0 && (err != nil || r.State != agent.StateRefunded || r.Pay.Status != agent.PayReturned) {
				t.Fatalf("refund: %v %s, part %s; want refunded, returned", err, r.State, r.Pay.Status)
			}
			st := forwardUntil(t, s, v.ID, "refunded", func(st *agent.Settlement) bool { return st.State == agent.StateRefunded })
			if st.Pay.Status != agent.PayReturned {
				t.Fatalf("refunded with the part %s; want returned", st.Pay.Status)
			}
			pays, returns := channelOrders(t, s, st)
			if len(pays) != 1 || len(returns) != 1 || returns[0].Amount != pays[0].Amount || returns[0].OrigQryID != pays[0].QueryID || returns[0].TxnType != acp.TxnCancel {
				t.Fatalf("the channel booked payments %+v and returns %+v; want one payment cancelled in full", pays, returns)
			}
			// Back on the card it was taken from, to the fen.
			l, err := s.PayChannel.Ledger()
			if err != nil {
				t.Fatal(err)
			}
			before, _ := s.PayStart.Balance(pays[0].Token)
			if after, _ := l.Balance(pays[0].Token); after != before {
				t.Fatalf("the card holds %s after the refund; it held %s before the bill", after, before)
			}
			if _, _, _, cancels := h.counts(); cancels != 1 {
				t.Fatalf("%d cancels sent; want one, queried if its answer was lost", cancels)
			}
			assertLedgers(t, s)
		})
	}
}
