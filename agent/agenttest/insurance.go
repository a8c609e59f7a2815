package agenttest

import (
	"context"
	"fmt"
	"sync"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
)

// Insurance is a scriptable agent.Insurance. By default it answers the
// online workflow consistently: an employee (310) patient, the pooled fund
// paying 70% of the bill, the personal account what it can of the rest
// when the request lets it, the patient the remainder; a cancel returns
// the settlement's amounts negated. Hooks run before the default answer
// of their step (the agent's Step* names, or "policy", "trust"): an error
// they return is the answer, which scripts refusals, lost answers and a
// slow platform. Every call is recorded.
type Insurance struct {
	mu sync.Mutex
	// Hooks by step.
	Hooks map[string]func(ctx context.Context, x agent.Exchange) error
	// AccountBalance is the personal account's balance (default 500 CNY).
	AccountBalance money.Fen
	// FundPct is the fund's share in percent (default 70).
	FundPct int64
	Calls   []Call
	booked  map[string]agent.Booking // by setl_id
}

// Call is one request the fake received.
type Call struct {
	Step  string
	Msgid string
	// UseAccount is a pre-settlement's or settlement's acct_used_flag.
	UseAccount bool
}

var _ agent.Insurance = (*Insurance)(nil)

// NewInsurance returns the fake with its defaults.
func NewInsurance() *Insurance {
	return &Insurance{Hooks: map[string]func(context.Context, agent.Exchange) error{}, AccountBalance: money.CNY(500), FundPct: 70, booked: map[string]agent.Booking{}}
}

// Hook sets the hook of a step.
func (f *Insurance) Hook(step string, h func(context.Context, agent.Exchange) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Hooks[step] = h
}

// Count returns how many requests of step were received.
func (f *Insurance) Count(step string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.Calls {
		if c.Step == step {
			n++
		}
	}
	return n
}

// Msgids returns the msgids received for step, in order.
func (f *Insurance) Msgids(step string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.Calls {
		if c.Step == step {
			out = append(out, c.Msgid)
		}
	}
	return out
}

func (f *Insurance) call(ctx context.Context, step string, x agent.Exchange, useAccount bool) error {
	f.mu.Lock()
	f.Calls = append(f.Calls, Call{Step: step, Msgid: x.Msgid, UseAccount: useAccount})
	h := f.Hooks[step]
	f.mu.Unlock()
	if h != nil {
		return h(ctx, x)
	}
	return nil
}

func (f *Insurance) Identify(ctx context.Context, r agent.IdentifyRequest) (agent.Person, error) {
	if err := f.call(ctx, agent.StepIdentify, r.Exchange, false); err != nil {
		return agent.Person{}, err
	}
	f.mu.Lock()
	balance := f.AccountBalance
	f.mu.Unlock()
	id := r.IDNo
	if r.CertType == agent.CertIDNo {
		id = r.CertNo
	}
	return agent.Person{PsnNo: "P0001", IDNo: id, Name: "张三", AgeTenths: 400,
		Insurances: []agent.Insured{{Type: agent.InsutypeEmployee, Active: true, Balance: balance, Region: "441900"}}}, nil
}

func (f *Insurance) Register(ctx context.Context, r agent.RegisterRequest) (agent.Visit, error) {
	if err := f.call(ctx, agent.StepRegister, r.Exchange, false); err != nil {
		return agent.Visit{}, err
	}
	return agent.Visit{MdtrtID: "MD-" + r.Msgid}, nil
}

func (f *Insurance) UploadFees(ctx context.Context, r agent.FeesRequest) ([]agent.LineResult, error) {
	if err := f.call(ctx, agent.StepUpload, r.Exchange, false); err != nil {
		return nil, err
	}
	out := make([]agent.LineResult, len(r.Lines))
	for i, l := range r.Lines {
		out[i] = agent.LineResult{Seq: l.Seq, Class: agent.ClassA, Eligible: l.Amount}
	}
	return out, nil
}

// split is the default split of a bill.
func (f *Insurance) split(total money.Fen, useAccount bool) agent.InsuranceSplit {
	f.mu.Lock()
	pct, balance := f.FundPct, f.AccountBalance
	f.mu.Unlock()
	fund := total.Percent(pct)
	sp := agent.InsuranceSplit{Total: total, Fund: fund, Eligible: total, Funds: []agent.FundPart{{Kind: agent.FundPooled, Amount: fund}}}
	rest := total - fund
	if useAccount {
		sp.Account = min(rest, balance)
	}
	sp.Cash = rest - sp.Account
	sp.Balance = balance - sp.Account
	return sp
}

func (f *Insurance) PreSettle(ctx context.Context, r agent.SplitRequest) (agent.InsuranceSplit, error) {
	if err := f.call(ctx, agent.StepPreSettle, r.Exchange, r.UseAccount); err != nil {
		return agent.InsuranceSplit{}, err
	}
	return f.split(r.Total, r.UseAccount), nil
}

func (f *Insurance) Settle(ctx context.Context, r agent.SplitRequest) (agent.Booking, error) {
	if err := f.call(ctx, agent.StepSettle, r.Exchange, r.UseAccount); err != nil {
		return agent.Booking{}, err
	}
	b := agent.Booking{SetlID: "S" + r.Msgid, SetlDay: "2026-11-23 09:00:00", Split: f.split(r.Total, r.UseAccount), ClearingType: "11"}
	f.mu.Lock()
	f.booked[b.SetlID] = b
	f.mu.Unlock()
	return b, nil
}

func (f *Insurance) Cancel(ctx context.Context, r agent.CancelRequest) (agent.Booking, error) {
	if err := f.call(ctx, agent.StepCancel, r.Exchange, false); err != nil {
		return agent.Booking{}, err
	}
	f.mu.Lock()
	orig, ok := f.booked[r.SetlID]
	f.mu.Unlock()
	if !ok {
		return agent.Booking{}, &agent.Refusal{Op: "2208", Kind: agent.RefusedNotFound, Message: "no such settlement"}
	}
	sp := orig.Split
	neg := agent.InsuranceSplit{Total: -sp.Total, Fund: -sp.Fund, Account: -sp.Account, Cash: -sp.Cash, Hospital: -sp.Hospital, Balance: sp.Balance + sp.Account}
	return agent.Booking{SetlID: "C" + r.Msgid, Split: neg}, nil
}

func (f *Insurance) Reverse(ctx context.Context, r agent.ReverseRequest) (agent.Reversal, error) {
	if err := f.call(ctx, agent.StepReverse, r.Exchange, false); err != nil {
		return agent.Reversal{}, err
	}
	for _, c := range f.calls() {
		if c.Msgid == r.Of {
			return agent.Reversal{Found: true}, nil
		}
	}
	return agent.Reversal{Found: false}, nil
}

func (f *Insurance) calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.Calls...)
}

func (f *Insurance) ReconcileTotals(ctx context.Context, r agent.TotalsRequest) (agent.TotalsResult, error) {
	if err := f.call(ctx, "reconcile", r.Exchange, false); err != nil {
		return agent.TotalsResult{}, err
	}
	return agent.TotalsResult{Result: agent.TotalsBalanced}, nil
}

func (f *Insurance) ReconcileDetail(ctx context.Context, r agent.DetailRequest) ([]agent.DetailResult, error) {
	if err := f.call(ctx, "reconcile_detail", r.Compare, false); err != nil {
		return nil, err
	}
	out := make([]agent.DetailResult, len(r.Lines))
	for i, l := range r.Lines {
		out[i] = agent.DetailResult{SetlID: l.SetlID, MdtrtID: l.MdtrtID, PsnNo: l.PsnNo, Result: agent.TotalsBalanced, Total: l.Total, Fund: l.Fund, Account: l.Account}
	}
	return out, nil
}

func (f *Insurance) Policy(ctx context.Context, x agent.Exchange) (agent.Policy, error) {
	if err := f.call(ctx, "policy", x, false); err != nil {
		return agent.Policy{}, err
	}
	return agent.Policy{Version: "test-1", ClassBSelfPayPct: 10, Insurance: []agent.InsurancePolicy{
		{Insutype: agent.InsutypeEmployee, Deductible: money.CNY(500), RatioPct: 70, YearCap: money.CNY(20000)},
		{Insutype: agent.InsutypeResident, Deductible: money.CNY(300), RatioPct: 50, YearCap: money.CNY(10000)},
	}}, nil
}

func (f *Insurance) TrustList(ctx context.Context, x agent.Exchange, since uint64) ([]byte, error) {
	if err := f.call(ctx, "trust", x, false); err != nil {
		return nil, err
	}
	return []byte(fmt.Sprintf(`{"version":%d}`, since+1)), nil
}
