// Package model is the in-memory model that the stack's model-based test
// holds the agent and the platform to. It records, for every bill the HIS
// submitted (one per idempotency key), what the HIS and the staff asked
// for and what they were answered, checks every answer and every journal
// record against what may legally be seen at that point, and knows from
// that what the platform must end up with once every fault is healed and
// the backlog drained: the bill not booked, booked exactly once, or booked
// once and refunded, with the amounts the agent's journal shows, to the
// fen.
//
// The model never predicts how a fault plays out (whether a bill is
// deferred, refused or left in doubt depends on timing); it predicts only
// what must hold whatever the timing.
package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Outcome is what the platform must end up with for one bill.
type Outcome int

const (
	// NotBooked: no settlement of the bill is active or cancelled (one
	// booked and then reversed is allowed: the platform undid it).
	NotBooked Outcome = iota
	// Booked: exactly one active settlement.
	Booked
	// Refunded: exactly one settlement, cancelled.
	Refunded
)

func (o Outcome) String() string {
	switch o {
	case NotBooked:
		return "not booked"
	case Booked:
		return "booked"
	case Refunded:
		return "refunded"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Bill is one bill the HIS submitted and everything done with it since.
type Bill struct {
	Key      string
	Persona  string
	CertType string
	Amount   money.Fen
	Mode     string
	// Declines is true when the platform refuses the patient (not
	// insured, card blocked or expired): the bill must never be booked.
	Declines bool
	// Body is what the HIS sends, the same every time.
	Body api.SettleBody

	// ID is the agent's settlement id, once an answer or the journal
	// named it.
	ID string
	// State is the state last seen in the journal.
	State agent.State
	// Abandoned: the HIS gave up after a failed answer (the patient paid
	// another way) and will not submit the bill again.
	Abandoned bool
	// Voided: staff voided the deferred bill.
	Voided bool
	// RefundAsked: staff asked for a refund while the bill was settled.
	RefundAsked bool

	visited map[agent.State]bool

	created int // answers that said this call created the settlement
	answers int // submissions answered
	lost    int // submissions that got no answer
}

// Model is every bill of one run, by idempotency key.
type Model struct {
	offline agent.OfflinePolicy
	bills   map[string]*Bill
	order   []string
}

// New returns an empty model for an agent with the given offline limits.
func New(offline agent.OfflinePolicy) *Model {
	return &Model{offline: offline, bills: map[string]*Bill{}}
}

// Add records a new bill before it is first submitted.
func (m *Model) Add(b *Bill) {
	if _, ok := m.bills[b.Key]; ok {
		panic("model: key " + b.Key + " added twice")
	}
	m.bills[b.Key] = b
	m.order = append(m.order, b.Key)
}

// Bills returns every bill in the order it was added.
func (m *Model) Bills() []*Bill {
	out := make([]*Bill, len(m.order))
	for i, k := range m.order {
		out[i] = m.bills[k]
	}
	return out
}

// Bill returns the bill under key, or nil.
func (m *Model) Bill(key string) *Bill { return m.bills[key] }

// Visited counts, per state, the bills that were seen in it at least
// once: what a run covered.
func (m *Model) Visited() map[agent.State]int {
	out := map[agent.State]int{}
	for _, b := range m.bills {
		for st := range b.visited {
			out[st]++
		}
	}
	return out
}

// NeverDeferrable reports whether b can never be deferred under the
// offline limits whatever the backlog holds: a bill the HIS forces
// offline is then refused every time it is submitted.
func (m *Model) NeverDeferrable(b *Bill) bool {
	kind := agent.TrustIDNumber
	if b.CertType == protocol.CertSSCard {
		kind = agent.TrustCard
	}
	return !m.offline.Enabled || b.Amount > m.offline.MaxBill || !slices.Contains(m.offline.Trust, kind)
}

// Expect is what the platform must end up with for b once everything is
// healed, drained and every bill the HIS still wants resubmitted.
func (m *Model) Expect(b *Bill) Outcome {
	switch {
	case b.Declines, b.Abandoned, b.Voided, b.Mode == agent.ModeForceOffline && m.NeverDeferrable(b):
		return NotBooked
	case b.RefundAsked:
		return Refunded
	}
	return Booked
}

// WantsResubmit reports whether the HIS, told that b failed, will submit
// it again: unless it gave up, or the bill can never get through.
func (m *Model) WantsResubmit(b *Bill) bool {
	return b.State == agent.StateFailed && !b.Abandoned && !(b.Mode == agent.ModeForceOffline && m.NeverDeferrable(b))
}

// Lost records a submission of b that got no answer (the agent was
// killed under it). The HIS submits it again.
func (m *Model) Lost(b *Bill) { b.lost++ }

// Settle checks an answer to a submission of b and records it.
func (m *Model) Settle(b *Bill, v api.SettlementView) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("bill %s (%s): answer %s: %s", b.Key, b.Persona, v.State, fmt.Sprintf(format, args...))
	}
	switch {
	case v.ID == "":
		return fail("no settlement id")
	case b.ID != "" && v.ID != b.ID:
		return fail("settlement id %s; the key was answered %s before", v.ID, b.ID)
	}
	b.ID = v.ID
	if v.Created {
		b.created++
	}
	first := b.answers == 0 && b.lost == 0
	b.answers++
	switch {
	case b.created > 1:
		return fail("%d answers say they created the settlement", b.created)
	case first && !v.Created:
		return fail("the first submission of a new key says it did not create it")
	case v.State == agent.StateAccepted, v.State == agent.StateSettling:
		return fail("the workflow answered before it stopped")
	case v.State == agent.StateFailed && v.Error == nil:
		return fail("failed without saying why")
	}
	return m.split(b, v.State, v.Split, v.SetlID, fail)
}

// Refund checks the answer to a refund of b asked while it was before,
// and records it.
func (m *Model) Refund(b *Bill, before agent.State, v api.SettlementView, err error) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("bill %s: refund asked while %s: %s", b.Key, before, fmt.Sprintf(format, args...))
	}
	switch before {
	case agent.StateSettled, agent.StateRefunding, agent.StateRefunded:
		b.RefundAsked = true
		if err != nil {
			return fail("%v", err)
		}
		if v.State != agent.StateRefunded && v.State != agent.StateRefunding {
			return fail("answered %s", v.State)
		}
		if v.State == agent.StateRefunded && v.Refund != nil && !zeroSplit(v.Refund.Split) && !negated(v.Refund.Split, v.Split) {
			return fail("refund split %v is not the settlement's %v negated", v.Refund.Split, v.Split)
		}
		return nil
	}
	if !isConflict(err) {
		return fail("answered %s, %v; want a conflict: only a settled bill can be refunded", v.State, err)
	}
	return nil
}

// RefundLost records a refund of b asked while it was before that got no
// answer (the agent was killed under it): it may have been recorded, so
// staff ask again until answered.
func (m *Model) RefundLost(b *Bill, before agent.State) {
	if before == agent.StateSettled || before == agent.StateRefunding {
		b.RefundAsked = true
	}
}

// Void checks the answer to a void of b asked while it was before, and
// records it.
func (m *Model) Void(b *Bill, before agent.State, v api.SettlementView, err error) error {
	if before == agent.StateDeferred {
		if err != nil || v.State != agent.StateVoided {
			return fmt.Errorf("bill %s: void of a deferred bill answered %s, %v", b.Key, v.State, err)
		}
		b.Voided = true
		return nil
	}
	if !isConflict(err) {
		return fmt.Errorf("bill %s: void while %s answered %s, %v; want a conflict: only a deferred bill can be voided", b.Key, before, v.State, err)
	}
	return nil
}

// Abandon records that the HIS gave up on b after it failed.
func (m *Model) Abandon(b *Bill) error {
	if b.State != agent.StateFailed {
		return fmt.Errorf("bill %s: abandoned while %s", b.Key, b.State)
	}
	b.Abandoned = true
	return nil
}

func isConflict(err error) bool {
	var aerr *api.APIError
	return errors.As(err, &aerr) && aerr.Status == 409
}

func negated(a, b agent.InsuranceSplit) bool {
	return a.Total == -b.Total && a.Fund == -b.Fund && a.Account == -b.Account && a.Cash == -b.Cash && a.Hospital == -b.Hospital
}

// zeroSplit reports whether no amount of sp is set: a refund whose
// cancellation answer was lost, found done by its duplicate refusal,
// carries none. (A split holds a slice, so it has no ==.)
func zeroSplit(sp agent.InsuranceSplit) bool {
	return sp.Total == 0 && sp.Fund == 0 && sp.Account == 0 && sp.Cash == 0 && sp.Hospital == 0 && len(sp.Funds) == 0
}

// Observe checks a journal record against the model: the bill is one the
// HIS submitted, and its state is one it may be in, reached by a legal
// step from the state seen before.
func (m *Model) Observe(st *agent.Settlement) error {
	b := m.bills[st.IdempotencyKey]
	if b == nil {
		return fmt.Errorf("journal holds %s under key %q, which no HIS submitted", st.ID, st.IdempotencyKey)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("bill %s (%s, %s, %s): journal %s %s (was %s): %s", b.Key, b.Persona, b.Mode, b.Amount, st.ID, st.State, b.State, fmt.Sprintf(format, args...))
	}
	switch {
	case b.ID != "" && st.ID != b.ID:
		return fail("the key was answered with %s", b.ID)
	case st.Bill.Total() != b.Amount:
		return fail("bill total %s; the HIS sent %s", st.Bill.Total(), b.Amount)
	}
	b.ID = st.ID
	prev := b.State
	b.State = st.State
	if b.visited == nil {
		b.visited = map[agent.State]bool{}
	}
	b.visited[st.State] = true
	if err := m.transition(b, prev, st); err != nil {
		return fail("%v", err)
	}
	if err := payLeg(st); err != nil {
		return fail("%v", err)
	}
	return m.split(b, st.State, st.Split, st.SetlID, fail)
}

// payLeg checks that the payment leg's status is one the bill's state
// allows, and that once the insured part is booked the leg is for the
// patient's part the platform left, to the fen.
func payLeg(st *agent.Settlement) error {
	var allowed []string
	switch st.State {
	case agent.StatePaying:
		// "" between the insured part's booking and the leg's first step.
		allowed = []string{"", agent.PayDue, agent.PayPaying}
	case agent.StateSettled:
		allowed = []string{agent.PayNone, agent.PayPaid, agent.PayPending, agent.PayConfirmRequired, agent.PayCollected}
	case agent.StateRefunding:
		allowed = []string{agent.PayNone, agent.PayPaid, agent.PayPending, agent.PayConfirmRequired, agent.PayCollected, agent.PayReturning}
	case agent.StateRefunded:
		allowed = []string{agent.PayNone, agent.PayReturned, agent.PayNotTaken, agent.PayReturnAtWindow}
	default:
		// Nothing is booked: no order may be out for the patient's part.
		for _, o := range st.Pay.Orders {
			if o.Kind == agent.OrderPay {
				return fmt.Errorf("payment order %s out for a bill nothing was booked for", o.OrderID)
			}
		}
		return nil
	}
	if !slices.Contains(allowed, st.Pay.Status) {
		return fmt.Errorf("payment leg %q; a %s bill's is one of %q", st.Pay.Status, st.State, allowed)
	}
	if st.Pay.Amount != st.Split.Cash {
		return fmt.Errorf("payment leg for %s; the platform left the patient %s", st.Pay.Amount, st.Split.Cash)
	}
	if st.Pay.Status == agent.PayNone && st.Pay.Amount != 0 {
		return fmt.Errorf("nothing to pay, yet the leg is for %s", st.Pay.Amount)
	}
	return nil
}

// transition checks that a bill may be in st.State, having been in prev.
func (m *Model) transition(b *Bill, prev agent.State, st *agent.Settlement) error {
	now := st.State
	switch prev {
	case agent.StateDeclined, agent.StateArrears, agent.StateVoided, agent.StateRefunded:
		if now != prev {
			return errors.New("left a final state")
		}
	case agent.StateSettled:
		if now != agent.StateSettled && now != agent.StateRefunding && now != agent.StateRefunded {
			return errors.New("a settled bill may only be refunded")
		}
	case agent.StatePaying:
		// The insured part is booked: only the payment leg is left, and
		// nothing undoes the booking but a refund of the settled bill.
		if now != agent.StatePaying && now != agent.StateSettled && now != agent.StateRefunding && now != agent.StateRefunded {
			return errors.New("a bill whose insured part is booked may only finish its payment leg")
		}
	}
	switch now {
	case agent.StateSettling, agent.StateInDoubt, agent.StateReversing, agent.StatePaying, agent.StateSettled:
		if b.Declines {
			return errors.New("the platform refuses this patient before anything is settled")
		}
	case agent.StateRefunding, agent.StateRefunded:
		if b.Declines || !b.RefundAsked {
			return errors.New("nobody asked for a refund")
		}
	case agent.StateDeclined, agent.StateArrears:
		if !b.Declines {
			return fmt.Errorf("the platform has no reason to refuse this patient (%v)", st.Error)
		}
		if now == agent.StateArrears && st.DeferredAt.IsZero() {
			return errors.New("arrears of a bill never deferred")
		}
	case agent.StateDeferred:
		switch {
		case st.DeferredAt.IsZero():
			return errors.New("deferred without a deferral time")
		case b.Mode == agent.ModeRequireOnline:
			return errors.New("the HIS required online settlement")
		case m.NeverDeferrable(b):
			return errors.New("the offline limits forbid deferring this bill")
		}
	case agent.StateVoided:
		if !b.Voided {
			return errors.New("nobody voided it")
		}
	case agent.StateFailed:
		if st.Error == nil {
			return errors.New("failed without saying why")
		}
	case agent.StateAccepted:
	default:
		return errors.New("unknown state")
	}
	if b.Voided && now != agent.StateVoided {
		return errors.New("voided, then not")
	}
	return nil
}

// split checks the amounts a state shows: a settlement's, as the platform
// answered them, balanced and equal to the bill; a deferred bill's, an
// estimate, balanced and equal to the bill.
func (m *Model) split(b *Bill, state agent.State, sp agent.InsuranceSplit, setlID string, fail func(string, ...any) error) error {
	switch state {
	case agent.StatePaying, agent.StateSettled, agent.StateRefunding, agent.StateRefunded:
		switch {
		case sp.Estimate:
			return fail("a settled bill shows an estimate")
		case setlID == "":
			return fail("settled without a setl_id")
		}
	case agent.StateDeferred:
		if !sp.Estimate {
			return fail("a deferred bill's split is not marked as an estimate")
		}
	default:
		return nil
	}
	if !sp.Balanced() || sp.Total != b.Amount {
		return fail("split %v does not balance to the bill's %s", sp, b.Amount)
	}
	return nil
}
