package agenttest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
)

// Payments is a scriptable in-memory agent.PaymentChannel. By default
// every patient has an agreement paying from a bank card, password-free
// up to 300 CNY a payment and 1,000 a day, the account first; Agreements
// overrides it per ID number (nil: no agreement). Orders are idempotent
// by order id, as a real channel's. Hooks run before a method's default
// (by method name: "agreement", "pay", "query", "cancel", "refund",
// "statement"); an error they return is the answer.
type Payments struct {
	mu         sync.Mutex
	Agreements map[string]*agent.Agreement // by ID number; a nil entry: none signed
	Hooks      map[string]func(ref agent.OrderRef) error
	// Answer, when set, replaces the outcome of the next pays (consumed in
	// order): PayUnknown and refusals for tests.
	Answer []agent.PayOutcome
	orders map[string]*fakeOrder
	seq    int
}

type fakeOrder struct {
	kind   string
	ref    agent.OrderRef
	amount money.Fen
	out    agent.PayOutcome
}

var _ agent.PaymentChannel = (*Payments)(nil)

// NewPayments returns the fake with its defaults.
func NewPayments() *Payments {
	return &Payments{Agreements: map[string]*agent.Agreement{}, Hooks: map[string]func(agent.OrderRef) error{}, orders: map[string]*fakeOrder{}}
}

// DefaultAgreement is what a patient without an entry has signed.
func DefaultAgreement() agent.Agreement {
	return agent.Agreement{ID: "AG-1", AccountFirst: true, PerPayment: money.CNY(300), Daily: money.CNY(1000),
		Sources: []agent.PaySource{{Kind: agent.SourceBankCard, Token: "tok-card", Masked: "6217 **** 0001"}}}
}

func (p *Payments) hook(name string, ref agent.OrderRef) error {
	p.mu.Lock()
	h := p.Hooks[name]
	p.mu.Unlock()
	if h != nil {
		return h(ref)
	}
	return nil
}

// Paid is the sum of the orders that took money, less what was returned.
func (p *Payments) Paid() money.Fen {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n money.Fen
	for _, o := range p.orders {
		if o.out.Status != agent.PaySucceeded {
			continue
		}
		if o.kind == agent.EntryPayment {
			n += o.amount
		} else {
			n -= o.amount
		}
	}
	return n
}

// Orders counts the orders received of kind (agent.Entry*).
func (p *Payments) Orders(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, o := range p.orders {
		if o.kind == kind {
			n++
		}
	}
	return n
}

func (p *Payments) Agreement(_ context.Context, q agent.AgreementQuery) (agent.Agreement, error) {
	if err := p.hook("agreement", agent.OrderRef{}); err != nil {
		return agent.Agreement{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.Agreements[q.IDNo]
	switch {
	case !ok:
		return DefaultAgreement(), nil
	case a == nil:
		return agent.Agreement{}, agent.ErrNoAgreement
	}
	return *a, nil
}

func (p *Payments) Sign(_ context.Context, r agent.SignRequest) (agent.Agreement, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	a := agent.Agreement{ID: fmt.Sprintf("AG-%d", p.seq+1), AccountFirst: r.AccountFirst, PerPayment: money.CNY(300), Daily: money.CNY(1000), Sources: []agent.PaySource{r.Source}}
	p.Agreements[r.Patient.IDNo] = &a
	return a, nil
}

func (p *Payments) SetLimits(_ context.Context, r agent.LimitsRequest) (agent.Agreement, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.Agreements {
		if a != nil && a.ID == r.AgreementID {
			if r.PerPayment > 0 {
				a.PerPayment = r.PerPayment
			}
			if r.Daily > 0 {
				a.Daily = r.Daily
			}
			return *a, nil
		}
	}
	return agent.Agreement{}, agent.ErrNoAgreement
}

func (p *Payments) CancelAgreement(_ context.Context, r agent.AgreementRef) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, a := range p.Agreements {
		if a != nil && a.ID == r.AgreementID {
			p.Agreements[k] = nil
			return nil
		}
	}
	return agent.ErrNoAgreement
}

func (p *Payments) Pay(_ context.Context, o agent.PayOrder) (agent.PayOutcome, error) {
	if err := p.hook("pay", o.OrderRef); err != nil {
		return agent.PayOutcome{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.orders[o.OrderID]; ok {
		return prev.out, nil
	}
	out := agent.PayOutcome{Status: agent.PaySucceeded, QueryID: "Q" + o.OrderID, Amount: o.Amount}
	if len(p.Answer) > 0 {
		out, p.Answer = p.Answer[0], p.Answer[1:]
	} else if !o.Confirmed && o.Amount > money.CNY(300) {
		out = agent.PayOutcome{Status: agent.PayRefused, Reason: agent.ReasonLimitPerPayment}
	}
	if out.Status == agent.PayUnknown {
		// Processing: the channel settles it as succeeded, which a query
		// then tells.
		p.orders[o.OrderID] = &fakeOrder{kind: agent.EntryPayment, ref: o.OrderRef, amount: o.Amount,
			out: agent.PayOutcome{Status: agent.PaySucceeded, QueryID: "Q" + o.OrderID, Amount: o.Amount}}
		return out, nil
	}
	p.orders[o.OrderID] = &fakeOrder{kind: agent.EntryPayment, ref: o.OrderRef, amount: o.Amount, out: out}
	return out, nil
}

func (p *Payments) Query(_ context.Context, o agent.OrderRef) (agent.PayOutcome, error) {
	if err := p.hook("query", o); err != nil {
		return agent.PayOutcome{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, ok := p.orders[o.OrderID]
	if !ok {
		return agent.PayOutcome{Status: agent.PayRefused, Reason: agent.ReasonNotFound}, nil
	}
	return prev.out, nil
}

func (p *Payments) reverse(name, kind string, r agent.PayReversal) (agent.PayOutcome, error) {
	if err := p.hook(name, r.OrderRef); err != nil {
		return agent.PayOutcome{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.orders[r.OrderID]; ok {
		return prev.out, nil
	}
	orig, ok := p.orders[r.Original.OrderID]
	if !ok || orig.out.Status != agent.PaySucceeded {
		return agent.PayOutcome{Status: agent.PayRefused, Reason: agent.ReasonNotFound}, nil
	}
	out := agent.PayOutcome{Status: agent.PaySucceeded, QueryID: "Q" + r.OrderID, Amount: r.Amount}
	p.orders[r.OrderID] = &fakeOrder{kind: kind, ref: r.OrderRef, amount: r.Amount, out: out}
	return out, nil
}

func (p *Payments) CancelPayment(_ context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	return p.reverse("cancel", agent.EntryCancel, r)
}

func (p *Payments) RefundPayment(_ context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	return p.reverse("refund", agent.EntryRefund, r)
}

func (p *Payments) Statement(_ context.Context, day time.Time) ([]agent.StatementEntry, error) {
	if err := p.hook("statement", agent.OrderRef{}); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []agent.StatementEntry
	for id, o := range p.orders {
		if o.out.Status == agent.PaySucceeded && o.ref.TxnTime.In(agent.CST).Format(time.DateOnly) == day.In(agent.CST).Format(time.DateOnly) {
			out = append(out, agent.StatementEntry{Kind: o.kind, OrderID: id, QueryID: o.out.QueryID, TxnTime: o.ref.TxnTime, Amount: o.amount})
		}
	}
	return out, nil
}
