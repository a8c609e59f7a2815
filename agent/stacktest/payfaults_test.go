package stacktest_test

// Faults of the payment leg: the patient's own part is taken through the
// payment channel after the insurance platform booked the insured part.
// Whatever fails (an answer lost, an outcome unknown, the channel away, the
// agent killed between the legs), the insured part stands, the part is
// taken exactly once, and a refund gives it back where it came from. Every
// test ends with both ledgers held against the journal (assertLedgers).

import (
	"context"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/sync/protocol"
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
