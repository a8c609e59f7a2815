package agenttest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
)

// PayChannel is a scriptable agent.PaymentChannel. By default it keeps
// agreements and orders in memory under the sandbox channel's rules (the
// contract suite in agent/paytest holds both to them): each order answered
// once, the same order again answered alike and other content under its
// id refused; password-free limits per payment and per Beijing day unless
// confirmed; a confirm-first family link paid only when confirmed; the
// whole amount from the one source named or nothing; credit lines for 18
// to 65; cancels whole and on the payment's day; refunds up to what is
// left. A ...Func field set replaces its method. Every call is recorded.
type PayChannel struct {
	// Clock is the channel's time; default the wall clock.
	Clock clock.Clock
	// The rollout's rules; zero takes 300 and 1,000 CNY, 18 to 65, and
	// 5,000 CNY for a card or credit line signed at run time.
	PerPayment, Daily          money.Fen
	CreditMinAge, CreditMaxAge int
	SignedBalance, SignedLine  money.Fen

	AgreementFunc       func(ctx context.Context, q agent.AgreementQuery) (agent.Agreement, error)
	SignFunc            func(ctx context.Context, r agent.SignRequest) (agent.Agreement, error)
	SetLimitsFunc       func(ctx context.Context, r agent.LimitsRequest) (agent.Agreement, error)
	CancelAgreementFunc func(ctx context.Context, r agent.AgreementRef) error
	PayFunc             func(ctx context.Context, o agent.PayOrder) (agent.PayOutcome, error)
	QueryFunc           func(ctx context.Context, o agent.OrderRef) (agent.PayOutcome, error)
	CancelPaymentFunc   func(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error)
	RefundPaymentFunc   func(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error)
	StatementFunc       func(ctx context.Context, day time.Time) ([]agent.StatementEntry, error)

	mu          sync.Mutex
	calls       []string
	agreements  map[string]*payAgreement // by id
	links       map[string]*payLink      // by id
	own, linked map[string]string        // ID number → agreement id, link id
	orders      map[string]*payOrder     // by order id
	usage       map[string]money.Fen     // agreement id "/" day
	names       map[string]string        // ID number → name
	seq         int
	unknownNext int
	loseNext    int
}

var _ agent.PaymentChannel = (*PayChannel)(nil)

// PayPatient is a signer as the fake is seeded with.
type PayPatient struct {
	IDNo, Name   string
	AccountFirst bool
	// PerPayment and Daily are the patient's own lower limits; zero: none.
	PerPayment, Daily money.Fen
	Sources           []PayFunds
	Family            []PayFamily // members this patient pays for
}

// PayFunds is a source and its money: a card's balance, or a credit
// line's unused amount (with its Limit).
type PayFunds struct {
	agent.PaySource
	Balance money.Fen
	Limit   money.Fen
}

// PayFamily is a family member a signer pays for.
type PayFamily struct {
	Member, Name, Relation string
	ConfirmFirst           bool
}

type payAgreement struct {
	id, holder, name string
	accountFirst     bool
	perPayment       money.Fen
	daily            money.Fen
	sources          []*PayFunds
	links            []string
	cancelled        bool
}

type payLink struct {
	id, member, signer, relation string
	confirmFirst, cancelled      bool
}

type payOrder struct {
	kind        string // agent.EntryPayment, EntryCancel, EntryRefund
	fingerprint string
	txnTime     time.Time
	out         agent.PayOutcome // as first answered
	truth       agent.PayOutcome // as a query tells it
	day         string
	booked      time.Time
	agreement   string
	token       string
	refunded    money.Fen
	cancelled   bool
}

// AddPatient seeds a signer and their family links; it returns the
// agreement's id.
func (p *PayChannel) AddPatient(pp PayPatient) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	a := &payAgreement{id: p.nextID("AG"), holder: pp.IDNo, name: pp.Name, accountFirst: pp.AccountFirst,
		perPayment: pp.PerPayment, daily: pp.Daily}
	for i := range pp.Sources {
		f := pp.Sources[i]
		a.sources = append(a.sources, &f)
	}
	for _, fm := range pp.Family {
		l := &payLink{id: p.nextID("FL"), member: fm.Member, signer: a.id, relation: fm.Relation, confirmFirst: fm.ConfirmFirst}
		p.links[l.id], p.linked[fm.Member] = l, l.id
		a.links = append(a.links, l.id)
		if fm.Name != "" {
			p.names[fm.Member] = fm.Name
		}
	}
	p.agreements[a.id], p.own[pp.IDNo], p.names[pp.IDNo] = a, a.id, pp.Name
	return a.id
}

// AddPerson makes a name known for an ID number without an agreement, so
// that a lookup with another name is refused.
func (p *PayChannel) AddPerson(idNo, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.names[idNo] = name
}

// AnswerUnknownNext makes the next n payments answer PayUnknown, decided
// and booked as always; a query tells the outcome.
func (p *PayChannel) AnswerUnknownNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unknownNext = n
}

// LoseNext makes the next n calls act and then return agent.ErrInDoubt.
func (p *PayChannel) LoseNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loseNext = n
}

// Calls returns the methods called, in order.
func (p *PayChannel) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// Balance returns the balance of the source with token.
func (p *PayChannel) Balance(token string) (money.Fen, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.agreements {
		for _, s := range a.sources {
			if s.Token == token {
				return s.Balance, true
			}
		}
	}
	return 0, false
}

// Booked returns how many times the order moved money: 0 or 1, however
// often it was sent.
func (p *PayChannel) Booked(orderID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o := p.orders[orderID]; o != nil && o.truth.Status == agent.PaySucceeded {
		return 1
	}
	return 0
}

func (p *PayChannel) init() {
	if p.agreements != nil {
		return
	}
	p.agreements, p.links = map[string]*payAgreement{}, map[string]*payLink{}
	p.own, p.linked, p.names = map[string]string{}, map[string]string{}, map[string]string{}
	p.orders, p.usage = map[string]*payOrder{}, map[string]money.Fen{}
	def := func(f *money.Fen, v money.Fen) {
		if *f == 0 {
			*f = v
		}
	}
	def(&p.PerPayment, money.CNY(300))
	def(&p.Daily, money.CNY(1000))
	def(&p.SignedBalance, money.CNY(5000))
	def(&p.SignedLine, money.CNY(5000))
	if p.CreditMinAge == 0 && p.CreditMaxAge == 0 {
		p.CreditMinAge, p.CreditMaxAge = 18, 65
	}
	if p.Clock == nil {
		p.Clock = clock.Real{}
	}
}

func (p *PayChannel) nextID(prefix string) string {
	p.seq++
	return fmt.Sprintf("%s%014d", prefix, p.seq)
}

// begin takes the lock and records a call; the caller unlocks.
func (p *PayChannel) begin(name string) {
	p.mu.Lock()
	p.init()
	p.calls = append(p.calls, name)
}

func (p *PayChannel) lost() bool {
	if p.loseNext > 0 {
		p.loseNext--
		return true
	}
	return false
}

func errLost(op string) error { return fmt.Errorf("%s: %w: the answer was lost", op, agent.ErrInDoubt) }

// Beijing is the channel's day.
var beijing = time.FixedZone("CST", 8*3600)

func dayOf(t time.Time) string { return t.In(beijing).Format(time.DateOnly) }

// ageOn is the age in whole years, on t's Beijing day, of the holder of
// an ID number.
func ageOn(idNo string, t time.Time) (int, bool) {
	birth, err := idno.BirthDate(idNo)
	if err != nil {
		return 0, false
	}
	d := t.In(beijing)
	age := d.Year() - birth.Year()
	if d.Month() < birth.Month() || d.Month() == birth.Month() && d.Day() < birth.Day() {
		age--
	}
	return age, true
}

func (p *PayChannel) limits(a *payAgreement) (perTxn, daily money.Fen) {
	perTxn, daily = p.PerPayment, p.Daily
	if a.perPayment > 0 {
		perTxn = money.Min(perTxn, a.perPayment)
	}
	if a.daily > 0 {
		daily = money.Min(daily, a.daily)
	}
	return perTxn, daily
}

func (p *PayChannel) view(a *payAgreement, l *payLink) agent.Agreement {
	out := agent.Agreement{ID: a.id, AccountFirst: a.accountFirst}
	out.PerPayment, out.Daily = p.limits(a)
	for _, s := range a.sources {
		src := s.PaySource
		if src.Kind == agent.SourceCreditLine {
			src.Available = s.Balance
		}
		out.Sources = append(out.Sources, src)
	}
	if l != nil {
		out.ID = l.id
		out.Family = &agent.FamilyLink{Relation: l.relation, ConfirmFirst: l.confirmFirst, Signer: mask.Name(a.name)}
	}
	return out
}

// payer resolves an agreement or a family link to the agreement that pays.
func (p *PayChannel) payer(id string) (*payAgreement, *payLink) {
	if a := p.agreements[id]; a != nil {
		if a.cancelled {
			return nil, nil
		}
		return a, nil
	}
	l := p.links[id]
	if l == nil || l.cancelled {
		return nil, nil
	}
	if a := p.agreements[l.signer]; a != nil && !a.cancelled {
		return a, l
	}
	return nil, nil
}

// sorted lists the orders of a day in booking order.
func (p *PayChannel) sorted(day string) []agent.StatementEntry {
	var ids []string
	for id, o := range p.orders {
		if o.day == day && o.truth.Status == agent.PaySucceeded {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := p.orders[ids[i]], p.orders[ids[j]]
		return a.booked.Before(b.booked) || a.booked.Equal(b.booked) && ids[i] < ids[j]
	})
	out := make([]agent.StatementEntry, 0, len(ids))
	for _, id := range ids {
		o := p.orders[id]
		out = append(out, agent.StatementEntry{Kind: o.kind, OrderID: id, QueryID: o.truth.QueryID, TxnTime: o.txnTime, Amount: o.truth.Amount})
	}
	return out
}
