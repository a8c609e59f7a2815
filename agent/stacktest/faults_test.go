package stacktest_test

// Network faults between the agent and the platform, through the loopback
// TCP fault proxy. Each test drives several bills (and a refund) through
// the local API while a fault is on, heals it, does what the HIS contract
// asks (a caller without a final answer submits the same bill again under
// the same Idempotency-Key), lets the forwarder drain, and then holds the
// platform's ledger against the journal (checkBooks): no double charge,
// nothing pending, every in-doubt request resolved.
//
// Where a fault must hit one transaction (the settlement request 2207 and
// not the pre-settlement 2206 before it), the proxy's latency paces the
// bills: started together, they move in step, one round trip of at least
// twice the latency per transaction, so "every bill has had its 2206
// answered" is a moment the test can wait for, well before any 2207 is
// on its way.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// faultBill is one bill as the HIS sees it: its key, what it sent and
// every answer it got.
type faultBill struct {
	key     string
	body    api.SettleBody
	mu      sync.Mutex
	id      string
	answers []api.SettlementView
	errs    []error
}

func (b *faultBill) record(v api.SettlementView, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.errs = append(b.errs, err)
		return
	}
	b.id = v.ID
	b.answers = append(b.answers, v)
}

// first is the answer to the first submission, made under the fault.
func (b *faultBill) first() (api.SettlementView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.answers) == 0 {
		return api.SettlementView{}, fmt.Errorf("bill %s: no answer (%v)", b.key, b.errs)
	}
	return b.answers[0], nil
}

// faultPatients settle without any limit getting in the way; the card
// identity lets a bill be deferred while the platform is away, the ID
// number does not (the default offline policy trusts cards only).
var faultPatients = []struct {
	persona string
	card    bool
}{
	{"acct-first", true}, {"bank-card", false}, {"deductible-met", true},
	{"credit-fallback", false}, {"family-signer", true}, {"resident-390", false},
}

// newBills makes n bills for different patients (n ≤ len(faultPatients)).
func newBills(t *testing.T, s *stacktest.Stack, prefix string, n int) []*faultBill {
	t.Helper()
	out := make([]*faultBill, n)
	for i := range out {
		p := faultPatients[i]
		out[i] = newBill(t, s, fmt.Sprintf("%s-%d", prefix, i), p.persona, p.card, int64(1000+137*i)) // odd amounts: a split off by a fen shows
	}
	return out
}

func newBill(t *testing.T, s *stacktest.Stack, key, persona string, card bool, fen int64) *faultBill {
	t.Helper()
	b := withAmount(body(t, s, persona, 0), fen)
	if card {
		b = cardBody(t, s, persona, fen)
	}
	b.Bill.VisitNo = key
	return &faultBill{key: key, body: b}
}

// faultStack starts a stack behind the fault proxy, signed in and with
// the platform's policy fetched (offline estimates need it).
func faultStack(t *testing.T, opts stacktest.Options) *stacktest.Stack {
	t.Helper()
	opts.Proxy = true
	s := stacktest.Start(t, opts)
	fetchPolicy(t, s)
	return s
}

// fetchPolicy fetches the platform's policy, trying again until it answers
// within 30 s: a fault test's attempts time out after a second, which a
// loaded machine's first exchange (sign-in, then E002) may outlast.
func fetchPolicy(t *testing.T, s *stacktest.Stack) {
	t.Helper()
	waitUntil(t, "the platform to answer the policy fetch", 30*time.Second, func() bool {
		_, err := s.Service.FetchPolicy(context.Background())
		return err == nil
	})
}

// submitAll submits every bill at once; the channel closes when every
// submission has been answered.
func submitAll(s *stacktest.Stack, bills []*faultBill) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, b := range bills {
		wg.Go(func() { b.record(s.API.Settle(context.Background(), b.key, b.body)) })
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// settleBefore settles bills with no fault on: the ones refunded later.
func settleBefore(t *testing.T, s *stacktest.Stack, bills []*faultBill) {
	t.Helper()
	<-submitAll(s, bills)
	for _, b := range bills {
		if v, err := b.first(); err != nil || v.State != agent.StateSettled {
			t.Fatalf("bill %s before the fault: %v %s", b.key, err, v.State)
		}
	}
}

// refundAsync asks for a refund of b; the channel carries the answer.
func refundAsync(s *stacktest.Stack, b *faultBill) <-chan api.SettlementView {
	out := make(chan api.SettlementView, 1)
	go func() {
		v, err := s.API.Refund(context.Background(), b.id, api.RefundBody{Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk}, Reason: "patient left"})
		if err != nil {
			v.State = agent.State("error: " + err.Error())
		}
		out <- v
	}()
	return out
}

// waitUntil polls cond: the faults here are switched at moments that
// only the platform's or the journal's state reveals.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(within)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitSeen waits until the platform has seen infno n times in all.
func waitSeen(t *testing.T, s *stacktest.Stack, infno string, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("the platform to see %s %d times", infno, n), 20*time.Second, func() bool { return s.Faults.Seen(infno) >= n })
}

// inState counts the journal's settlements in state.
func inState(t *testing.T, s *stacktest.Stack, state agent.State) int {
	t.Helper()
	l, err := s.Journal.List(context.Background(), agent.ListFilter{States: []agent.State{state}})
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// pastInDoubtWindow waits until every settlement in doubt has been so for
// longer than window: a real interval of the agent's own clock, not a
// synchronisation.
func pastInDoubtWindow(t *testing.T, s *stacktest.Stack, window time.Duration) {
	t.Helper()
	list, err := s.Journal.List(context.Background(), agent.ListFilter{States: []agent.State{agent.StateInDoubt}})
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for _, st := range list {
		if st.InDoubtSince.After(last) {
			last = st.InDoubtSince
		}
	}
	if wait := time.Until(last.Add(window + 10*time.Millisecond)); wait > 0 {
		<-time.After(wait)
	}
}

func TestLatencyNeverChargesTwice(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		latency time.Duration
		attempt time.Duration
		// atOnce: every bill is settled and the refund done in the first
		// answer; otherwise no answer can be, and each bill is deferred
		// (card) or refused offline (an ID number), and the refund waits.
		atOnce bool
	}{
		{name: "below the attempt timeout", latency: 40 * time.Millisecond, attempt: 2 * time.Second, atOnce: true},
		{name: "above the attempt timeout", latency: 300 * time.Millisecond, attempt: 200 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := faultStack(t, stacktest.Options{AttemptTimeout: c.attempt, RetryWindow: 500 * time.Millisecond})
			pre := newBills(t, s, "pre", 1)
			settleBefore(t, s, pre)
			bills := newBills(t, s, "lat", 5)[1:]
			s.Proxy.Latency(c.latency)
			done := submitAll(s, bills)
			refund := <-refundAsync(s, pre[0])
			<-done
			for i, b := range bills {
				v, err := b.first()
				if err != nil {
					t.Fatal(err)
				}
				want := agent.StateSettled
				if !c.atOnce {
					want = agent.StateFailed
					if faultPatients[i+1].card {
						want = agent.StateDeferred
					}
				}
				if v.State != want {
					t.Errorf("bill %s answered %s %+v; want %s", b.key, v.State, v.Error, want)
				}
			}
			if want := map[bool]agent.State{true: agent.StateRefunded, false: agent.StateRefunding}[c.atOnce]; refund.State != want {
				t.Errorf("refund answered %s; want %s", refund.State, want)
			}
			if err := s.Proxy.Heal(); err != nil {
				t.Fatal(err)
			}
			resolve(t, s, bills, pre)
			got := checkBooks(t, s, append(bills, pre...))
			wantAllSettled(t, s, bills)
			if c.atOnce && got.inDoubt != 0 {
				t.Errorf("%d settlements went in doubt under a latency the attempts outlast", got.inDoubt)
			}
		})
	}
}

func TestConnectionsResetMidStreamNeverChargeTwice(t *testing.T) {
	t.Parallel()
	s := faultStack(t, stacktest.Options{AttemptTimeout: 2 * time.Second, RetryWindow: 2 * time.Second})
	pre := newBills(t, s, "pre", 1)
	settleBefore(t, s, pre)
	bills := newBills(t, s, "rst", 6)
	uploaded := s.Faults.Seen(protocol.UploadFees.Infno)
	s.Proxy.Latency(100 * time.Millisecond) // requests are on the wire when the resets come
	done := submitAll(s, bills)
	waitUntil(t, "half the bills uploading their fees", 10*time.Second, func() bool { return s.Faults.Seen(protocol.UploadFees.Infno) >= uploaded+3 })
	if err := s.Proxy.Reset(); err != nil {
		t.Fatal(err)
	}
	refund := refundAsync(s, pre[0])
	// Resets until the client gives the platform up: its breaker opens.
	waitUntil(t, "the circuit breaker to open", 10*time.Second, func() bool { return !s.Client.Available() })
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	<-done
	<-refund
	resolve(t, s, bills, pre)
	checkBooks(t, s, append(bills, pre...))
	wantAllSettled(t, s, bills)
}

func TestBlackHolePastTheInDoubtWindowReversesAndSettlesOnce(t *testing.T) {
	t.Parallel()
	const window = time.Second
	// Attempts of 3 s: with 200 ms each way, a loaded machine's step
	// before the settlement must not time out and leave its bill short of
	// the moment the black hole is waiting for.
	s := faultStack(t, stacktest.Options{AttemptTimeout: 3 * time.Second, RetryWindow: 500 * time.Millisecond, InDoubtWindow: window})
	pre := newBills(t, s, "pre", 1)
	settleBefore(t, s, pre)
	bills := newBills(t, s, "bh", 4)
	s.Proxy.Latency(200 * time.Millisecond)
	done := submitAll(s, bills)
	// Every bill pre-settled and recorded as settling: its 2207 is about
	// to leave or is held by the latency; the black hole swallows it. (A
	// bill far ahead of the others may have its answer already: then it
	// is settled, and the others are still caught.)
	waitUntil(t, "every bill past its pre-settlement", 30*time.Second, func() bool {
		return inState(t, s, agent.StateAccepted) == 0 && inState(t, s, agent.StateSettling) > 0
	})
	if err := s.Proxy.BlackHole(); err != nil {
		t.Fatal(err)
	}
	refund := refundAsync(s, pre[0])
	<-done
	inDoubt := 0
	for _, b := range bills {
		v, err := b.first()
		if err != nil {
			t.Fatal(err)
		}
		switch v.State {
		case agent.StateInDoubt:
			inDoubt++
		case agent.StateSettled: // its 2207 made it before the black hole
		case agent.StateFailed:
			// Its 2207 never left: the others' timeouts had opened the
			// breaker first (on a loaded machine a bill can reach its
			// 2207 that late). Nothing was booked; it settles when it is
			// submitted again below, and the books say so.
			if v.Error == nil || (v.Error.Code != agent.FailOfflineLimit && v.Error.Code != agent.FailUnreachable) {
				t.Errorf("bill %s failed %+v; want in doubt, or unreachable before its 2207 left", b.key, v.Error)
			}
		default:
			t.Errorf("bill %s answered %s %+v; want in doubt", b.key, v.State, v.Error)
		}
	}
	if inDoubt == 0 {
		t.Fatal("no bill was in doubt: the black hole came too late")
	}
	if v := <-refund; v.State != agent.StateRefunding {
		t.Errorf("refund in the black hole answered %s; want refunding", v.State)
	}
	// Still black-holed past the window: the forwarder gives the attempts
	// up and sends reversals, which go unanswered too.
	pastInDoubtWindow(t, s, window)
	s.Forwarder.Pass(context.Background(), true)
	if n := inState(t, s, agent.StateReversing); n != inDoubt {
		t.Errorf("%d settlements reversing after the window; want the %d in doubt", n, inDoubt)
	}
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	resolve(t, s, bills, pre)
	got := checkBooks(t, s, append(bills, pre...))
	wantAllSettled(t, s, bills)
	if got.reversed != inDoubt {
		t.Errorf("%d attempts reversed; want the %d in doubt", got.reversed, inDoubt)
	}
	l, err := s.Sandbox.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Tombstones) == 0 {
		t.Error("no reversal found its request never processed: the black hole never swallowed a 2207")
	}
}

func TestSettlementAnswersLostAfterCommitAreResentAndChargedOnce(t *testing.T) {
	t.Parallel()
	s := faultStack(t, stacktest.Options{AttemptTimeout: 2 * time.Second, RetryWindow: 3 * time.Second})
	pre := newBills(t, s, "pre", 1)
	settleBefore(t, s, pre)
	bills := newBills(t, s, "drop", 4)
	seen := s.Faults.Seen(protocol.Settle.Infno)
	// The bills' first 2207s are booked and their answers lost, whichever
	// bill gets there first (a resend comes only after an attempt's
	// timeout, long after every first attempt).
	s.Faults.DropAnswers(protocol.Settle.Infno, len(bills))
	s.Proxy.Latency(150 * time.Millisecond)
	done := submitAll(s, bills)
	waitSeen(t, s, protocol.Settle.Infno, seen+len(bills))
	refund := refundAsync(s, pre[0])
	<-done
	for _, b := range bills {
		if v, err := b.first(); err != nil || v.State != agent.StateSettled {
			t.Errorf("bill %s: %v %s; want settled by the resend", b.key, err, v.State)
		}
	}
	if v := <-refund; v.State != agent.StateRefunded {
		t.Errorf("refund answered %s", v.State)
	}
	if n := s.Faults.Seen(protocol.Settle.Infno) - seen; n != 2*len(bills) {
		t.Errorf("the platform saw 2207 %d times; want %d (each once, and once more after its answer was lost)", n, 2*len(bills))
	}
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	resolve(t, s, bills, pre)
	checkBooks(t, s, append(bills, pre...))
	wantAllSettled(t, s, bills)
}

func TestSettlementAnswersLostPastTheInDoubtWindowAreReversedThenSettledOnce(t *testing.T) {
	t.Parallel()
	const window = time.Second
	// Attempts of 3 s: with 200 ms each way, a loaded machine's step
	// before the settlement must not time out and leave its bill short of
	// the moment the black hole is waiting for.
	s := faultStack(t, stacktest.Options{AttemptTimeout: 3 * time.Second, RetryWindow: 500 * time.Millisecond, InDoubtWindow: window})
	pre := newBills(t, s, "pre", 1)
	settleBefore(t, s, pre)
	bills := newBills(t, s, "lost", 4)
	// Every 2207 is booked and its answer lost, whichever bill gets there
	// first; once each is booked, every answer from then on (the resends',
	// the reversals', the refund's) is lost too.
	booked := s.Faults.Seen(protocol.Settle.Infno)
	s.Faults.DropAnswers(protocol.Settle.Infno, 1<<20)
	s.Proxy.Latency(150 * time.Millisecond)
	done := submitAll(s, bills)
	waitSeen(t, s, protocol.Settle.Infno, booked+len(bills))
	s.Proxy.DropResponses(1 << 20)
	refund := refundAsync(s, pre[0])
	<-done
	for _, b := range bills {
		if v, err := b.first(); err != nil || v.State != agent.StateInDoubt {
			t.Errorf("bill %s: %v %s; want in doubt", b.key, err, v.State)
		}
	}
	if v := <-refund; v.State != agent.StateRefunding {
		t.Errorf("refund answered %s; want refunding", v.State)
	}
	pastInDoubtWindow(t, s, window)
	s.Forwarder.Pass(context.Background(), true) // reversals sent, their answers lost too
	if n := inState(t, s, agent.StateReversing); n != len(bills) {
		t.Errorf("%d settlements reversing; want %d", n, len(bills))
	}
	s.Faults.Heal()
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	resolve(t, s, bills, pre)
	got := checkBooks(t, s, append(bills, pre...))
	wantAllSettled(t, s, bills)
	l, err := s.Sandbox.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reversed := 0
	for _, e := range l.Settlements {
		if e.Reversed {
			reversed++
		}
	}
	if got.reversed != len(bills) || reversed != len(bills) {
		t.Errorf("%d attempts given up, %d bookings reversed; want %d of each (every first booking)", got.reversed, reversed, len(bills))
	}
}

func TestRefundAnswersLostAfterCommitAreResentAndRefundOnce(t *testing.T) {
	t.Parallel()
	s := faultStack(t, stacktest.Options{AttemptTimeout: 2 * time.Second, RetryWindow: 3 * time.Second})
	bills := newBills(t, s, "ref", 4)
	settleBefore(t, s, bills)
	more := newBills(t, s, "more", 6)[4:]
	// Nothing else is in flight: the next requests to start are the
	// refunds, and each loses its answer once the platform has cancelled.
	s.Proxy.DropResponses(len(bills))
	answers := make([]<-chan api.SettlementView, len(bills))
	for i, b := range bills {
		answers[i] = refundAsync(s, b)
	}
	waitSeen(t, s, protocol.CancelSettle.Infno, len(bills))
	done := submitAll(s, more) // new bills meanwhile
	for i, a := range answers {
		if v := <-a; v.State != agent.StateRefunded {
			t.Errorf("refund of %s answered %s; want refunded by the resend", bills[i].key, v.State)
		}
	}
	<-done
	if n := s.Faults.Seen(protocol.CancelSettle.Infno); n != 2*len(bills) {
		t.Errorf("the platform saw 2208 %d times; want %d (each once, and once more after its answer was lost)", n, 2*len(bills))
	}
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	resolve(t, s, more, bills)
	checkBooks(t, s, append(bills, more...))
	wantAllSettled(t, s, more)
}

func TestOutageDuringAForwarderDrainChargesOnceInPatientOrder(t *testing.T) {
	t.Parallel()
	s := faultStack(t, stacktest.Options{AttemptTimeout: time.Second, RetryWindow: 500 * time.Millisecond})
	pre := newBills(t, s, "pre", 1)
	settleBefore(t, s, pre)
	// Deferred while the platform refuses connections: card bills, two of
	// them for the same patient, and one voided at the window.
	if err := s.Proxy.Refuse(); err != nil {
		t.Fatal(err)
	}
	var bills []*faultBill
	for i, p := range []string{"acct-first", "deductible-met", "acct-first", "family-signer", "deductible-met"} {
		b := &faultBill{key: fmt.Sprintf("def-%d", i), body: cardBody(t, s, p, int64(2000+101*i))}
		b.body.Bill.VisitNo = b.key
		bills = append(bills, b)
	}
	<-submitAll(s, bills)
	for _, b := range bills {
		if v, err := b.first(); err != nil || v.State != agent.StateDeferred {
			t.Fatalf("bill %s: %v %s; want deferred", b.key, err, v.State)
		}
	}
	voided := bills[4]
	var vv api.SettlementView
	if _, err := s.API.Do(context.Background(), "POST", "/v1/settlements/"+voided.id+"/void", nil,
		api.VoidBody{Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk}, Reason: "paid cash"}, &vv); err != nil || vv.State != agent.StateVoided {
		t.Fatalf("void: %v %s", err, vv.State)
	}

	// The platform is back, slowly; the drain starts, and the platform goes
	// away again while a settlement request's answer is on its way.
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the circuit breaker's cool-down", 5*time.Second, s.Client.Available)
	fetchPolicy(t, s) // the probe that closes it
	s.Proxy.Latency(150 * time.Millisecond)
	// The settlements the drain sends are booked and their answers lost,
	// resent ones too; the outage begins while the agent waits for the
	// first.
	booked := s.Faults.Seen(protocol.Settle.Infno) + 1
	s.Faults.DropAnswers(protocol.Settle.Infno, 1<<20)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		// A loaded machine's slow answer before the settlement can defer
		// the bills again and end the pass early: the hospital's staff
		// would drain again, and so does the test, until one is booked.
		end := time.Now().Add(20 * time.Second)
		for s.Faults.Seen(protocol.Settle.Infno) < booked && time.Now().Before(end) {
			s.Forwarder.Pass(context.Background(), true)
		}
	}()
	waitSeen(t, s, protocol.Settle.Infno, booked)
	if err := s.Proxy.BlackHole(); err != nil {
		t.Fatal(err)
	}
	refund := refundAsync(s, pre[0])
	<-drained
	if n := inState(t, s, agent.StateInDoubt); n < 1 {
		t.Errorf("%d forwarded bills in doubt after the outage; want the one whose answer was lost", n)
	}
	if v := <-refund; v.State != agent.StateRefunding {
		t.Errorf("refund during the outage answered %s; want refunding", v.State)
	}
	s.Faults.Heal()
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	resolve(t, s, nil, pre)
	got := checkBooks(t, s, append(bills, pre...))
	if got.inDoubt < 1 {
		t.Error("no forwarded bill was ever in doubt: the outage missed the drain")
	}
	wantAllSettled(t, s, bills[:4])
	if st, _ := s.Service.Get(context.Background(), voided.id); st == nil || st.State != agent.StateVoided {
		t.Errorf("the voided bill: %+v", st)
	}
	// The same patient's bills were booked in the order they were deferred
	// (the order of their ids: the two were submitted at once).
	first, _ := s.Service.Get(context.Background(), min(bills[0].id, bills[2].id))
	second, _ := s.Service.Get(context.Background(), max(bills[0].id, bills[2].id))
	if first == nil || second == nil || !first.SettledAt.Before(second.SettledAt) {
		t.Errorf("acct-first's bills settled out of order: %v then %v", first.SettledAt, second.SettledAt)
	}
}

// A bill identified by its ID number is settled, its answer lost past the
// in-doubt window, the attempt reversed (booked, then undone), and the HIS
// submits the bill again under the same key, as it must. The steps before
// the settlement are replayed under their msgids, and each replay must be
// the very request first sent: the person query (1101) of the first run
// carried no name, and the name its answer taught must not turn the replay
// into a different request under a used msgid (MSGID_CONFLICT, a decline).
func TestResubmittedBillIdentifiedByIDNumberIsNotDeclinedAfterItsReversal(t *testing.T) {
	t.Parallel()
	s := faultStack(t, stacktest.Options{AttemptTimeout: time.Second, RetryWindow: 300 * time.Millisecond, InDoubtWindow: time.Millisecond})
	b := newBill(t, s, "idno-1", "bank-card", false, 2345)
	presettled := s.Faults.Seen(protocol.PreSettle.Infno)
	s.Proxy.Latency(100 * time.Millisecond)
	done := submitAll(s, []*faultBill{b})
	waitSeen(t, s, protocol.PreSettle.Infno, presettled+1)
	s.Proxy.DropResponses(1 << 20) // the settlement is booked; no answer arrives
	<-done
	if v, err := b.first(); err != nil || v.State != agent.StateInDoubt {
		t.Fatalf("first answer: %v %s; want in doubt", err, v.State)
	}
	if err := s.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	// The in-doubt window (1 ms) must have passed since the bill went in
	// doubt, which a fast machine may not have done yet.
	if cur, err := s.Service.Get(context.Background(), b.id); err == nil {
		<-time.After(time.Until(cur.InDoubtSince.Add(2 * time.Millisecond)))
	}
	st, err := s.Service.Forward(context.Background(), b.id) // past the window: reversed
	if err != nil || st.State != agent.StateFailed || len(st.PriorMsgids) != 1 {
		t.Fatalf("after the reversal: %v %s %v", err, st.State, st.PriorMsgids)
	}
	v, err := s.API.Settle(context.Background(), b.key, b.body)
	if err != nil || v.State != agent.StateSettled {
		t.Fatalf("submitted again after the reversal: %v %s %+v; want settled", err, v.State, v.Error)
	}
}
