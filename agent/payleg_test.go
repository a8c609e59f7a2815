package agent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
)

// The payment leg: the patient's own part, taken through the payment
// channel once the insurance platform has booked the insured part.

type payRig struct {
	svc *agent.Service
	ins *agenttest.Insurance
	pay *agenttest.PayChannel
	c   *clock.Fake
	j   *agenttest.Journal
}

// The patient: 41 years old, so a credit line may pay.
var payPatient = func() string {
	c, _ := idno.CheckChar("11010519850615001")
	return "11010519850615001" + string(c)
}()

const (
	cardToken   = "tok-card"
	creditToken = "tok-credit"
)

// newPayRig is a service whose patient has no money left in the personal
// account (the part that is not the fund's is the patient's: 30% of a
// bill) and has signed a bank card with 1,000 CNY on it.
func newPayRig(t *testing.T) payRig {
	return newPayRigWith(t, agenttest.PayPatient{AccountFirst: true, Sources: []agenttest.PayFunds{
		{PaySource: agent.PaySource{Kind: agent.SourceBankCard, Token: cardToken, Masked: "6217 **** **** 0001"}, Balance: money.CNY(1000)},
	}})
}

func newPayRigWith(t *testing.T, signer agenttest.PayPatient) payRig {
	t.Helper()
	c := clock.NewFake(agenttest.Epoch)
	ins, pay := agenttest.NewInsurance(), &agenttest.PayChannel{Clock: c}
	ins.Model.AddPerson(payPatient, "张三", "", "")
	ins.Model.SetBalance(payPatient, 0)
	signer.IDNo, signer.Name = payPatient, "张三"
	if signer.Sources != nil || signer.Family != nil {
		pay.AddPatient(signer)
	} else {
		pay.AddPerson(payPatient, "张三")
	}
	j := agenttest.NewJournal(c)
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: ins, Payment: pay, Clock: c,
		Offline: agent.DefaultOfflinePolicy()})
	return payRig{svc, ins, pay, c, j}
}

var kiosk = agent.Operator{ID: "KIOSK1", Type: agent.OpterKiosk}

func (r payRig) settle(t *testing.T, key string, fen money.Fen) *agent.Settlement {
	t.Helper()
	req := request(key, bill(fen))
	req.Identity.CertNo = payPatient
	st, _, err := r.svc.Settle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// taken is how much the channel took from the card.
func (r payRig) taken(t *testing.T) money.Fen {
	t.Helper()
	b, ok := r.pay.Balance(cardToken)
	if !ok {
		t.Fatal("no card")
	}
	return money.CNY(1000) - b
}

func TestThePatientsPartIsTakenOnceFromTheSignedCardAfterTheInsuredPartIsBooked(t *testing.T) {
	r := newPayRig(t)
	st := r.settle(t, "k1", 10000) // 100 CNY: the fund 70, the patient 30
	if st.State != agent.StateSettled || st.Pay.Status != agent.PayPaid || st.Pay.Amount != 3000 || st.Split.Cash != 3000 {
		t.Fatalf("settlement %s pay %+v split %s", st.State, st.Pay, st.Split)
	}
	if st.Pay.Source == nil || st.Pay.Source.Kind != agent.SourceBankCard || st.Pay.Source.Token != "" || st.Pay.Source.Masked == "" {
		t.Fatalf("source %+v: the kind and the masked number, never the token", st.Pay.Source)
	}
	if got := r.taken(t); got != 3000 {
		t.Fatalf("the channel took %s, want 30.00", got)
	}
	again := r.settle(t, "k1", 10000)
	if again.ID != st.ID || len(again.Pay.Orders) != 1 || r.taken(t) != 3000 {
		t.Fatalf("resubmission: %d orders, %s taken; want the one order", len(again.Pay.Orders), r.taken(t))
	}
}

func TestNoAgreementLeavesTheInsuredPartStandingAndThePatientsPartPending(t *testing.T) {
	r := newPayRigWith(t, agenttest.PayPatient{})
	st := r.settle(t, "k1", 10000)
	if st.State != agent.StateSettled || st.SetlID == "" || st.Pay.Status != agent.PayPending || st.Pay.Reason != agent.ReasonNoAgreement {
		t.Fatalf("%s setl %q pay %+v; want booked, the part pending for no agreement", st.State, st.SetlID, st.Pay)
	}
	if len(st.Pay.Orders) != 0 {
		t.Fatal("a payment was sent without an agreement")
	}
}

func TestAPartOverThePasswordFreeLimitIsPaidOnceThePatientConfirms(t *testing.T) {
	r := newPayRig(t)
	st := r.settle(t, "k1", 200000) // the patient's part 600 CNY, over 300
	if st.Pay.Status != agent.PayConfirmRequired || st.Pay.Reason != agent.ReasonLimitPerPayment || r.taken(t) != 0 {
		t.Fatalf("pay %+v; want awaiting confirmation", st.Pay)
	}
	st, err := r.svc.ConfirmPayment(context.Background(), st.ID, kiosk)
	if err != nil || st.Pay.Status != agent.PayPaid || r.taken(t) != 60000 {
		t.Fatalf("confirmed: %v %+v, channel took %s", err, st.Pay, r.taken(t))
	}
	if _, err := r.svc.ConfirmPayment(context.Background(), st.ID, kiosk); !errors.Is(err, agent.ErrConflict) {
		t.Fatalf("confirming a paid bill: %v; want a conflict", err)
	}
}

func TestAConfirmFirstFamilyBillWaitsForTheConfirmation(t *testing.T) {
	c := clock.NewFake(agenttest.Epoch)
	ins, pay := agenttest.NewInsurance(), &agenttest.PayChannel{Clock: c}
	ins.Model.AddPerson(payPatient, "张三", "", "")
	ins.Model.SetBalance(payPatient, 0)
	pay.AddPatient(agenttest.PayPatient{IDNo: idOf("11010519600101002"), Name: "王芳", Sources: []agenttest.PayFunds{
		{PaySource: agent.PaySource{Kind: agent.SourceBankCard, Token: cardToken}, Balance: money.CNY(1000)}},
		Family: []agenttest.PayFamily{{Member: payPatient, Name: "张三", Relation: "child", ConfirmFirst: true}}})
	j := agenttest.NewJournal(c)
	r := payRig{agent.NewService(agent.ServiceConfig{Journal: j, Insurance: ins, Payment: pay, Clock: c}), ins, pay, c, j}
	st := r.settle(t, "k1", 10000)
	if st.Pay.Status != agent.PayConfirmRequired || st.Pay.Family == nil || st.Pay.Family.Signer == "王芳" {
		t.Fatalf("pay %+v family %+v; want awaiting confirmation, the signer masked", st.Pay, st.Pay.Family)
	}
	if st, _ = r.svc.ConfirmPayment(context.Background(), st.ID, kiosk); st.Pay.Status != agent.PayPaid {
		t.Fatalf("after confirmation: %+v", st.Pay)
	}
}

func TestAnUnknownPaymentOutcomeIsQueriedOnTheChannelsScheduleAndTakenOnce(t *testing.T) {
	r := newPayRig(t)
	r.pay.AnswerUnknownNext(1)
	st := r.settle(t, "k1", 10000)
	if st.State != agent.StatePaying || st.Pay.Status != agent.PayPaying {
		t.Fatalf("%s %+v; want paying, the outcome unknown", st.State, st.Pay)
	}
	o := st.Pay.Orders[0]
	if o.Status != agent.OrderUnknown || !o.NextQuery.Equal(r.c.Now().Add(time.Second)) {
		t.Fatalf("order %+v; want unknown, queried after 1 s", o)
	}
	if st, _ = r.svc.Forward(context.Background(), st.ID); st.State != agent.StatePaying {
		t.Fatalf("queried before it was due: %s", st.State)
	}
	r.c.Advance(time.Second)
	st, err := r.svc.Forward(context.Background(), st.ID)
	if err != nil || st.State != agent.StateSettled || st.Pay.Status != agent.PayPaid || r.taken(t) != 3000 || len(st.Pay.Orders) != 1 {
		t.Fatalf("after the query: %v %s %+v, channel took %s", err, st.State, st.Pay, r.taken(t))
	}
}

func TestALostPaymentAnswerIsResolvedByAQueryOfTheSameOrder(t *testing.T) {
	r := newPayRig(t)
	real := r.pay
	lost := true
	r.svc = agent.NewService(agent.ServiceConfig{Journal: agenttest.NewJournal(r.c), Insurance: r.ins, Clock: r.c,
		Payment: losingPays{PayChannel: real, lost: &lost}})
	st := r.settle(t, "k1", 10000)
	if st.State != agent.StatePaying {
		t.Fatalf("%s; want paying", st.State)
	}
	r.c.Advance(time.Second)
	st, _ = r.svc.Forward(context.Background(), st.ID) // the channel never had it: sent again, the same order
	if st.Pay.Status != agent.PayPaid || len(st.Pay.Orders) != 1 || r.taken(t) != 3000 || real.Booked(st.Pay.Orders[0].OrderID) != 1 {
		t.Fatalf("pay %+v, channel took %s; want one order, paid once", st.Pay, r.taken(t))
	}
}

func TestAnUnreachableChannelLeavesThePartDueForTheForwarder(t *testing.T) {
	r := newPayRig(t)
	down := true
	r.pay.AgreementFunc = func(ctx context.Context, q agent.AgreementQuery) (agent.Agreement, error) {
		if down {
			return agent.Agreement{}, agent.ErrUnreachable
		}
		r.pay.AgreementFunc = nil
		return r.pay.Agreement(ctx, q)
	}
	st := r.settle(t, "k1", 10000)
	if st.State != agent.StatePaying || st.Pay.Status != agent.PayDue || st.NextTry.IsZero() {
		t.Fatalf("%s %+v; want the part due, retried later", st.State, st.Pay)
	}
	pending, _ := r.svc.Pending(context.Background())
	if len(pending) != 1 {
		t.Fatalf("pending %d; the forwarder must see the part to take", len(pending))
	}
	down = false
	if st, _ = r.svc.Forward(context.Background(), st.ID); st.Pay.Status != agent.PayPaid {
		t.Fatalf("forwarded: %+v", st.Pay)
	}
}

func TestACardWithoutFundsFallsBackToTheCreditLineWhole(t *testing.T) {
	r := newPayRigWith(t, agenttest.PayPatient{Sources: []agenttest.PayFunds{
		{PaySource: agent.PaySource{Kind: agent.SourceBankCard, Token: cardToken}, Balance: 1000}, // 10 CNY left
		{PaySource: agent.PaySource{Kind: agent.SourceCreditLine, Token: creditToken, Masked: "信用就医"}, Balance: money.CNY(3000), Limit: money.CNY(3000)},
	}})
	st := r.settle(t, "k1", 10000)
	if credit, _ := r.pay.Balance(creditToken); st.Pay.Status != agent.PayPaid || st.Pay.Source.Kind != agent.SourceCreditLine || len(st.Pay.Orders) != 2 || credit != money.CNY(3000)-3000 {
		t.Fatalf("pay %+v; want the whole part from the credit line after the card was refused", st.Pay)
	}
}

func TestAnAccountThatCannotCoverThePartLeavesItWholeToTheCreditLine(t *testing.T) {
	r := newPayRigWith(t, agenttest.PayPatient{AccountFirst: true, Sources: []agenttest.PayFunds{
		{PaySource: agent.PaySource{Kind: agent.SourceCreditLine, Token: creditToken}, Balance: money.CNY(3000), Limit: money.CNY(3000)},
	}})
	r.ins.Model.SetBalance(payPatient, 1000) // 10 CNY of a 30 CNY part
	var flags []bool
	var msgids []string
	r.ins.PreSettleFunc = func(ctx context.Context, q agent.SplitRequest) (agent.InsuranceSplit, error) {
		flags = append(flags, q.UseAccount)
		msgids = append(msgids, q.Msgid)
		return r.ins.Model.PreSettle(ctx, q)
	}
	r.ins.SettleFunc = func(ctx context.Context, q agent.SplitRequest) (agent.Booking, error) {
		flags = append(flags, q.UseAccount)
		return r.ins.Model.Settle(ctx, q)
	}
	st := r.settle(t, "k1", 10000)
	if !st.Pay.CreditWhole || st.Split.Account != 0 || st.Split.Cash != 3000 || st.Pay.Source.Kind != agent.SourceCreditLine {
		t.Fatalf("split %s pay %+v; want the account left out and the credit line taking all 30.00", st.Split, st.Pay)
	}
	if len(flags) != 3 || !flags[0] || flags[1] || flags[2] {
		t.Fatalf("acct_used_flag of 2206, 2206, 2207 = %v; want true, false, false", flags)
	}
	// The second pre-settlement's msgid, allocated only when it is needed,
	// is its own, kept in the journal under its step.
	if len(msgids) != 2 || msgids[0] == msgids[1] || st.Msgids[agent.StepPreSettle] != msgids[0] || st.Msgids[agent.StepPreCredit] != msgids[1] {
		t.Fatalf("2206 msgids %v, stored %v; want two, each stored under its step", msgids, st.Msgids)
	}
}

// The whole part was left to the credit line (the account could not
// cover it), but the credit line is closed to the patient (over the age
// the rollout allows): the card takes the whole part instead, rather than
// leaving it pending while a source could pay.
func TestACreditLineThatRefusesLeavesTheWholePartToTheNextSource(t *testing.T) {
	r := newPayRigWith(t, agenttest.PayPatient{AccountFirst: true, Sources: []agenttest.PayFunds{
		{PaySource: agent.PaySource{Kind: agent.SourceBankCard, Token: cardToken}, Balance: money.CNY(50)},
		{PaySource: agent.PaySource{Kind: agent.SourceCreditLine, Token: creditToken}, Balance: money.CNY(3000), Limit: money.CNY(3000)},
	}})
	r.pay.CreditMinAge, r.pay.CreditMaxAge = 18, 40 // the patient is 41
	r.ins.Model.SetBalance(payPatient, 1000)        // 10 CNY of a 30 CNY part
	st := r.settle(t, "k1", 10000)
	card, _ := r.pay.Balance(cardToken)
	if !st.Pay.CreditWhole || st.Pay.Status != agent.PayPaid || st.Pay.Source.Kind != agent.SourceBankCard || card != money.CNY(50)-3000 {
		t.Fatalf("pay %+v, card %s; want the whole 30.00 from the card after the credit line refused", st.Pay, card)
	}
	if len(st.Pay.Orders) != 2 || st.Pay.Orders[0].Source != agent.SourceCreditLine || st.Pay.Orders[0].Reason != agent.ReasonSourceInvalid {
		t.Fatalf("orders %+v; want the credit line first, refused", st.Pay.Orders)
	}
}

func TestARefundReturnsEachPartWhereItCameFrom(t *testing.T) {
	r := newPayRig(t)
	ctx := context.Background()
	op := agent.Operator{ID: "W01", Type: agent.OpterClerk}

	paid := r.settle(t, "paid", 10000)
	st, err := r.svc.Refund(ctx, agent.RefundRequest{ID: paid.ID, Operator: op, Reason: "wrong item"})
	if err != nil || st.State != agent.StateRefunded || !st.Refund.Insured || st.Pay.Status != agent.PayReturned || r.taken(t) != 0 {
		t.Fatalf("refund of a paid bill: %v %s %+v, channel holds %s", err, st.State, st.Pay, r.taken(t))
	}
	if o := st.Pay.Orders[len(st.Pay.Orders)-1]; o.Kind != agent.OrderCancel || o.Status != agent.OrderSucceeded {
		t.Fatalf("return order %+v; a payment of the same day is cancelled, not refunded", o)
	}

	pending := r.settle(t, "pending", 200000) // over the limit: waits for a confirmation
	st, err = r.svc.Refund(ctx, agent.RefundRequest{ID: pending.ID, Operator: op})
	if err != nil || st.State != agent.StateRefunded || st.Pay.Status != agent.PayNotTaken || len(st.Pay.Orders) != 1 {
		t.Fatalf("refund of a bill whose part was never paid: %v %s %+v; want not_taken, never 'refunded'", err, st.State, st.Pay)
	}

	cash := r.settle(t, "cash", 200000)
	if st, err = r.svc.Collect(ctx, agent.CollectRequest{ID: cash.ID, Channel: agent.CollectCash, Operator: op}); err != nil || st.Pay.Status != agent.PayCollected {
		t.Fatalf("collect: %v %+v", err, st.Pay)
	}
	st, err = r.svc.Refund(ctx, agent.RefundRequest{ID: cash.ID, Operator: op})
	if err != nil || st.Pay.Status != agent.PayReturnAtWindow {
		t.Fatalf("refund of a part paid in cash: %v %+v; want it given back at the window", err, st.Pay)
	}
}

func TestAPartPaidNextDayIsRefundedNotCancelled(t *testing.T) {
	r := newPayRig(t)
	st := r.settle(t, "k1", 10000)
	r.c.Advance(24 * time.Hour)
	st, err := r.svc.Refund(context.Background(), agent.RefundRequest{ID: st.ID, Operator: agent.Operator{ID: "W01", Type: agent.OpterClerk}})
	if o := st.Pay.Orders[len(st.Pay.Orders)-1]; err != nil || st.Pay.Status != agent.PayReturned || o.Kind != agent.OrderRefund || r.taken(t) != 0 {
		t.Fatalf("%v %+v; want a refund order", err, st.Pay)
	}
}

func TestCollectingNeedsAReferenceExceptForCash(t *testing.T) {
	r := newPayRigWith(t, agenttest.PayPatient{})
	st := r.settle(t, "k1", 10000)
	op := agent.Operator{ID: "W01", Type: agent.OpterClerk}
	if _, err := r.svc.Collect(context.Background(), agent.CollectRequest{ID: st.ID, Channel: agent.CollectWeChat, Operator: op}); !errors.Is(err, agent.ErrInvalid) {
		t.Fatalf("WeChat without its transaction number: %v", err)
	}
	st, err := r.svc.Collect(context.Background(), agent.CollectRequest{ID: st.ID, Channel: agent.CollectWeChat, Reference: "4200001234567890", Operator: op})
	if err != nil || st.Pay.Collected.Reference != "4200001234567890" || st.Pay.Collected.Amount != 3000 {
		t.Fatalf("%v %+v", err, st.Pay)
	}
}

func idOf(first17 string) string {
	c, _ := idno.CheckChar(first17)
	return first17 + string(c)
}

// losingPays loses the first payment on its way to the channel: sent, and
// never arrived.
type losingPays struct {
	*agenttest.PayChannel
	lost *bool
}

func (l losingPays) Pay(ctx context.Context, o agent.PayOrder) (agent.PayOutcome, error) {
	if *l.lost {
		*l.lost = false
		return agent.PayOutcome{}, agent.ErrInDoubt
	}
	return l.PayChannel.Pay(ctx, o)
}

// The agreement looked up before the pre-settlement serves the payment
// right after the booking: the channel is asked once per bill, not twice.
// A payment driven again later (a forwarder's retry, a restart) asks anew.
func TestTheChannelIsAskedForTheAgreementOncePerBill(t *testing.T) {
	r := newPayRig(t)
	st := r.settle(t, "k1", 10000)
	if st.State != agent.StateSettled || st.Pay.Status != agent.PayPaid {
		t.Fatalf("settlement %s pay %+v", st.State, st.Pay)
	}
	lookups := 0
	for _, c := range r.pay.Calls() {
		if c == "Agreement" {
			lookups++
		}
	}
	if lookups != 1 {
		t.Fatalf("the channel was asked for the agreement %d times (%v); want once", lookups, r.pay.Calls())
	}
}

// The payment order is stored in the write that books the insured part,
// when the agreement was looked up for this bill moments before: four
// writes for a bill paid at once (accepted, pre-settled, booked with its
// order, paid), and the order durable before it is sent.
func TestTheBookingsWriteHoldsThePaymentOrder(t *testing.T) {
	r := newPayRig(t)
	var atPay *agent.Settlement
	var writesAtPay int
	r.pay.PayFunc = func(ctx context.Context, o agent.PayOrder) (agent.PayOutcome, error) {
		atPay, _ = r.j.Get(ctx, o.Settlement)
		writesAtPay = r.j.Writes
		return agent.PayOutcome{Status: agent.PaySucceeded, QueryID: "Q1"}, nil
	}
	st := r.settle(t, "k1", 10000)
	if st.State != agent.StateSettled || st.Pay.Status != agent.PayPaid {
		t.Fatalf("settlement %s pay %+v", st.State, st.Pay)
	}
	if atPay == nil || atPay.State != agent.StatePaying || len(atPay.Pay.Orders) != 1 || atPay.Pay.Orders[0].Status != agent.OrderAllocated {
		t.Fatalf("stored when the order was sent: %+v", atPay)
	}
	if writesAtPay != 3 || r.j.Writes != 4 {
		t.Errorf("%d writes before the order was sent, %d in all; want 3 and 4", writesAtPay, r.j.Writes)
	}
}
