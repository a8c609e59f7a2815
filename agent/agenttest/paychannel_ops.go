package agenttest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
)

// Agreement implements agent.PaymentChannel: the patient's own agreement
// (adults only), else the family link that covers them.
func (p *PayChannel) Agreement(ctx context.Context, q agent.AgreementQuery) (agent.Agreement, error) {
	if p.AgreementFunc != nil {
		p.record("Agreement")
		return p.AgreementFunc(ctx, q)
	}
	p.begin("Agreement")
	defer p.mu.Unlock()
	if err := p.identity("agreement", q); err != nil {
		return agent.Agreement{}, err
	}
	out, err := p.lookup(q.IDNo)
	if err == nil && p.lost() {
		return agent.Agreement{}, errLost("agreement")
	}
	return out, err
}

func (p *PayChannel) lookup(idNo string) (agent.Agreement, error) {
	if age, _ := ageOn(idNo, p.Clock.Now()); age >= 18 {
		if a := p.agreements[p.own[idNo]]; a != nil && !a.cancelled {
			return p.view(a, nil), nil
		}
	}
	if a, l := p.payer(p.linked[idNo]); a != nil && l != nil {
		return p.view(a, l), nil
	}
	return agent.Agreement{}, fmt.Errorf("agreement: %w", agent.ErrNoAgreement)
}

func (p *PayChannel) identity(op string, q agent.AgreementQuery) error {
	switch {
	case idno.Check(q.IDNo) != nil:
		return fmt.Errorf("%s: %w: not an ID number", op, agent.ErrInvalid)
	case q.Name != "" && p.names[q.IDNo] != "" && q.Name != p.names[q.IDNo]:
		return fmt.Errorf("%s: %w: the name is not the ID number's", op, agent.ErrInvalid)
	}
	return nil
}

// Sign implements agent.PaymentChannel.
func (p *PayChannel) Sign(ctx context.Context, r agent.SignRequest) (agent.Agreement, error) {
	if p.SignFunc != nil {
		p.record("Sign")
		return p.SignFunc(ctx, r)
	}
	p.begin("Sign")
	defer p.mu.Unlock()
	if err := p.identity("sign", r.Patient); err != nil {
		return agent.Agreement{}, err
	}
	now := p.Clock.Now()
	age, _ := ageOn(r.Patient.IDNo, now)
	if age < 18 {
		return agent.Agreement{}, fmt.Errorf("sign: %w: minors pay through family pay", agent.ErrInvalid)
	}
	n := r.Source.Token
	src := PayFunds{PaySource: agent.PaySource{Kind: r.Source.Kind, Bank: r.Source.Bank}}
	switch r.Source.Kind {
	case agent.SourceBankCard, agent.SourceCardAccount:
		if len(n) < 12 || len(n) > 19 || strings.Trim(n, "0123456789") != "" {
			return agent.Agreement{}, fmt.Errorf("sign: %w: not a card number", agent.ErrInvalid)
		}
		src.Masked, src.Balance = n[:4]+" **** "+n[len(n)-4:], p.SignedBalance
	case agent.SourceCreditLine:
		if len(n) < 4 || len(n) > 32 {
			return agent.Agreement{}, fmt.Errorf("sign: %w: not a credit line reference", agent.ErrInvalid)
		}
		if age < p.CreditMinAge || age > p.CreditMaxAge {
			return agent.Agreement{}, fmt.Errorf("sign: %w: a credit line is for ages %d to %d", agent.ErrInvalid, p.CreditMinAge, p.CreditMaxAge)
		}
		src.Masked, src.Balance, src.Limit = "信用就医 **** "+n[len(n)-4:], p.SignedLine, p.SignedLine
	default:
		return agent.Agreement{}, fmt.Errorf("sign: %w: source kind %q", agent.ErrInvalid, r.Source.Kind)
	}
	a := p.agreements[p.own[r.Patient.IDNo]]
	if a == nil || a.cancelled {
		a = &payAgreement{id: p.nextID("AG"), holder: r.Patient.IDNo, name: r.Patient.Name}
		p.agreements[a.id], p.own[r.Patient.IDNo] = a, a.id
	}
	a.accountFirst = r.AccountFirst
	bound := false
	for _, s := range a.sources {
		bound = bound || s.Kind == src.Kind && s.Masked == src.Masked
	}
	if !bound {
		src.Token = p.nextID("6235")
		a.sources = append(a.sources, &src)
	}
	if p.lost() {
		return agent.Agreement{}, errLost("sign")
	}
	return p.view(a, nil), nil
}

// SetLimits implements agent.PaymentChannel: each limit above zero and at
// most the rollout's; a family link's are the signer's to set.
func (p *PayChannel) SetLimits(ctx context.Context, r agent.LimitsRequest) (agent.Agreement, error) {
	if p.SetLimitsFunc != nil {
		p.record("SetLimits")
		return p.SetLimitsFunc(ctx, r)
	}
	p.begin("SetLimits")
	defer p.mu.Unlock()
	if p.links[r.AgreementID] != nil {
		return agent.Agreement{}, fmt.Errorf("set limits: %w: a family link's limits are the signer's", agent.ErrInvalid)
	}
	a := p.agreements[r.AgreementID]
	if a == nil || a.cancelled {
		return agent.Agreement{}, fmt.Errorf("set limits: %w", agent.ErrNotFound)
	}
	if r.PerPayment < 0 || r.PerPayment > p.PerPayment || r.Daily < 0 || r.Daily > p.Daily || r.PerPayment == 0 && r.Daily == 0 {
		return agent.Agreement{}, fmt.Errorf("set limits: %w: %s and %s", agent.ErrInvalid, r.PerPayment, r.Daily)
	}
	if r.PerPayment > 0 {
		a.perPayment = r.PerPayment
	}
	if r.Daily > 0 {
		a.daily = r.Daily
	}
	if p.lost() {
		return agent.Agreement{}, errLost("set limits")
	}
	return p.view(a, nil), nil
}

// CancelAgreement implements agent.PaymentChannel: an agreement with its
// family links, or one link.
func (p *PayChannel) CancelAgreement(ctx context.Context, r agent.AgreementRef) error {
	if p.CancelAgreementFunc != nil {
		p.record("CancelAgreement")
		return p.CancelAgreementFunc(ctx, r)
	}
	p.begin("CancelAgreement")
	defer p.mu.Unlock()
	if l := p.links[r.AgreementID]; l != nil && !l.cancelled {
		l.cancelled = true
	} else if a := p.agreements[r.AgreementID]; a != nil && !a.cancelled {
		a.cancelled = true
		for _, id := range a.links {
			p.links[id].cancelled = true
		}
	} else {
		return fmt.Errorf("cancel agreement: %w", agent.ErrNotFound)
	}
	if p.lost() {
		return errLost("cancel agreement")
	}
	return nil
}

// once answers an order exactly once: the same order again gets the first
// answer, other content under its id is agent.ErrIdempotencyConflict.
func (p *PayChannel) once(op, id, fp string, txnTime time.Time, decide func(o *payOrder)) (agent.PayOutcome, error) {
	if prev := p.orders[id]; prev != nil {
		if prev.fingerprint != fp {
			return agent.PayOutcome{}, fmt.Errorf("%s %s: %w", op, id, agent.ErrIdempotencyConflict)
		}
		return prev.out, nil
	}
	o := &payOrder{fingerprint: fp, txnTime: txnTime}
	decide(o)
	if o.out.Status == "" {
		o.out = o.truth
	}
	p.orders[id] = o
	if p.lost() {
		return agent.PayOutcome{}, errLost(op)
	}
	return o.out, nil
}

func payRefused(reason string) agent.PayOutcome {
	return agent.PayOutcome{Status: agent.PayRefused, Reason: reason}
}

func checkRef(op string, o agent.OrderRef, amount money.Fen) error {
	if len(o.OrderID) < 8 || len(o.OrderID) > 32 || o.TxnTime.IsZero() || amount <= 0 {
		return fmt.Errorf("%s: %w: order %q, amount %s", op, agent.ErrInvalid, o.OrderID, amount)
	}
	return nil
}

// Pay implements agent.PaymentChannel.
func (p *PayChannel) Pay(ctx context.Context, o agent.PayOrder) (agent.PayOutcome, error) {
	if p.PayFunc != nil {
		p.record("Pay")
		return p.PayFunc(ctx, o)
	}
	p.begin("Pay")
	defer p.mu.Unlock()
	if err := checkRef("pay", o.OrderRef, o.Amount); err != nil {
		return agent.PayOutcome{}, err
	}
	fp := fmt.Sprint("pay", o.TxnTime.Unix(), o.Amount, o.AgreementID, o.Source.Token, o.Confirmed, o.Settlement)
	return p.once("pay", o.OrderID, fp, o.TxnTime, func(rec *payOrder) {
		rec.kind, rec.token = agent.EntryPayment, o.Source.Token
		rec.truth = p.decide(rec, o)
		if p.unknownNext > 0 {
			p.unknownNext--
			rec.out = agent.PayOutcome{Status: agent.PayUnknown}
		}
	})
}

// decide applies the payment rules in the sandbox channel's order: the
// agreement, a confirm-first link, the source, the credit line's ages,
// the password-free limits (unless confirmed), the balance.
func (p *PayChannel) decide(rec *payOrder, o agent.PayOrder) agent.PayOutcome {
	a, l := p.payer(o.AgreementID)
	if a == nil {
		return payRefused(agent.ReasonNoAgreement)
	}
	if l != nil && l.confirmFirst && !o.Confirmed {
		return payRefused(agent.ReasonConfirmRequired)
	}
	var src *PayFunds
	for _, s := range a.sources {
		if s.Token == o.Source.Token {
			src = s
		}
	}
	now := p.Clock.Now()
	if src == nil || a.cancelled {
		return payRefused(agent.ReasonSourceInvalid)
	}
	if age, _ := ageOn(a.holder, now); src.Kind == agent.SourceCreditLine && (age < p.CreditMinAge || age > p.CreditMaxAge) {
		return payRefused(agent.ReasonSourceInvalid)
	}
	day := dayOf(now)
	if !o.Confirmed {
		perTxn, daily := p.limits(a)
		switch {
		case o.Amount > perTxn:
			return payRefused(agent.ReasonLimitPerPayment)
		case p.usage[a.id+"/"+day]+o.Amount > daily:
			return payRefused(agent.ReasonLimitDaily)
		}
	}
	if o.Amount > src.Balance {
		return payRefused(agent.ReasonInsufficient)
	}
	src.Balance -= o.Amount
	if !o.Confirmed {
		p.usage[a.id+"/"+day] += o.Amount
	}
	rec.day, rec.booked, rec.agreement = day, now, a.id
	return agent.PayOutcome{Status: agent.PaySucceeded, QueryID: p.nextID("51"), Amount: o.Amount, SettleDate: now.In(beijing).Format("0102")}
}

// Query implements agent.PaymentChannel.
func (p *PayChannel) Query(ctx context.Context, o agent.OrderRef) (agent.PayOutcome, error) {
	if p.QueryFunc != nil {
		p.record("Query")
		return p.QueryFunc(ctx, o)
	}
	p.begin("Query")
	defer p.mu.Unlock()
	rec := p.orders[o.OrderID]
	if rec == nil || !rec.txnTime.Equal(o.TxnTime) {
		return payRefused(agent.ReasonNotFound), nil
	}
	if p.lost() {
		return agent.PayOutcome{}, errLost("query")
	}
	return rec.truth, nil
}

// CancelPayment implements agent.PaymentChannel.
func (p *PayChannel) CancelPayment(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	if p.CancelPaymentFunc != nil {
		p.record("CancelPayment")
		return p.CancelPaymentFunc(ctx, r)
	}
	return p.reverse("CancelPayment", agent.EntryCancel, r, func(orig *payOrder, now time.Time) bool {
		if orig.day != dayOf(now) || r.Amount != orig.truth.Amount || orig.refunded > 0 {
			return false
		}
		orig.cancelled = true
		return true
	})
}

// RefundPayment implements agent.PaymentChannel.
func (p *PayChannel) RefundPayment(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	if p.RefundPaymentFunc != nil {
		p.record("RefundPayment")
		return p.RefundPaymentFunc(ctx, r)
	}
	return p.reverse("RefundPayment", agent.EntryRefund, r, func(orig *payOrder, now time.Time) bool {
		if now.After(orig.booked.AddDate(0, 11, 0)) || r.Amount > orig.truth.Amount-orig.refunded {
			return false
		}
		orig.refunded += r.Amount
		return true
	})
}

func (p *PayChannel) reverse(name, kind string, r agent.PayReversal, rule func(orig *payOrder, now time.Time) bool) (agent.PayOutcome, error) {
	p.begin(name)
	defer p.mu.Unlock()
	if err := checkRef(name, r.OrderRef, r.Amount); err != nil {
		return agent.PayOutcome{}, err
	}
	fp := fmt.Sprint(kind, r.TxnTime.Unix(), r.Amount, r.OriginalQID)
	return p.once(name, r.OrderID, fp, r.TxnTime, func(rec *payOrder) {
		rec.kind = kind
		var orig *payOrder
		for _, o := range p.orders {
			if o.kind == agent.EntryPayment && o.truth.Status == agent.PaySucceeded && o.truth.QueryID == r.OriginalQID {
				orig = o
			}
		}
		now := p.Clock.Now()
		if orig == nil || orig.cancelled || !rule(orig, now) {
			rec.truth = payRefused(agent.ReasonOther)
			return
		}
		for _, s := range p.agreements[orig.agreement].sources {
			if s.Token == orig.token {
				s.Balance += r.Amount
			}
		}
		rec.day, rec.booked, rec.agreement, rec.token = dayOf(now), now, orig.agreement, orig.token
		rec.truth = agent.PayOutcome{Status: agent.PaySucceeded, QueryID: p.nextID("51"), Amount: r.Amount, SettleDate: now.In(beijing).Format("0102")}
	})
}

// Statement implements agent.PaymentChannel: the day's bookings so far.
func (p *PayChannel) Statement(ctx context.Context, day time.Time) ([]agent.StatementEntry, error) {
	if p.StatementFunc != nil {
		p.record("Statement")
		return p.StatementFunc(ctx, day)
	}
	p.begin("Statement")
	defer p.mu.Unlock()
	out := p.sorted(dayOf(day))
	if p.lost() {
		return nil, errLost("statement")
	}
	return out, nil
}

func (p *PayChannel) record(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, name)
}
