package agenttest

import (
	"context"
	"sync"

	"github.com/seed-a859fada/medterm/agent"
)

// Insurance is a scriptable agent.Insurance. Each method calls its Func
// field when set and the in-memory platform Model otherwise, so a test
// scripts only what it is about (a settlement in doubt, a refusal) and an
// override may still call the Model to let the platform book:
//
//	ins := agenttest.NewInsurance()
//	ins.SettleFunc = func(ctx context.Context, r agent.SplitRequest) (agent.Booking, error) {
//		ins.Model.Settle(ctx, r) // booked ...
//		return agent.Booking{}, agent.ErrInDoubt // ... and the answer lost
//	}
//
// The Model meets the same contract as the adapter over the sandbox
// (agent/insurancetest).
type Insurance struct {
	Model *InsuranceModel

	IdentifyFunc        func(context.Context, agent.IdentifyRequest) (agent.Person, error)
	RegisterFunc        func(context.Context, agent.RegisterRequest) (agent.Visit, error)
	UploadFeesFunc      func(context.Context, agent.FeesRequest) ([]agent.LineResult, error)
	PreSettleFunc       func(context.Context, agent.SplitRequest) (agent.InsuranceSplit, error)
	SettleFunc          func(context.Context, agent.SplitRequest) (agent.Booking, error)
	CancelFunc          func(context.Context, agent.CancelRequest) (agent.Booking, error)
	ReverseFunc         func(context.Context, agent.ReverseRequest) (agent.Reversal, error)
	ReconcileTotalsFunc func(context.Context, agent.TotalsRequest) (agent.TotalsResult, error)
	ReconcileDetailFunc func(context.Context, agent.DetailRequest) ([]agent.DetailResult, error)
	PolicyFunc          func(context.Context, agent.Exchange) (agent.Policy, error)
	TrustListFunc       func(context.Context, agent.Exchange, uint64) ([]byte, error)

	mu    sync.Mutex
	calls []Call
	hooks map[string]func(ctx context.Context, msgid string) error
}

// Before sets a hook that runs when method is called, before its Func or
// the Model answers: an error it returns is the answer (a lost answer, a
// refusal, an unreachable platform), nil lets the call go on. It may
// block on ctx to play a slow platform. nil removes the hook.
func (f *Insurance) Before(method string, h func(ctx context.Context, msgid string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hooks == nil {
		f.hooks = map[string]func(context.Context, string) error{}
	}
	f.hooks[method] = h
}

func (f *Insurance) before(ctx context.Context, method, msgid string) error {
	f.mu.Lock()
	h := f.hooks[method]
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(ctx, msgid)
}

// Msgids returns the msgids a method was called with, in order.
func (f *Insurance) Msgids(method string) []string {
	var out []string
	for _, c := range f.Calls() {
		if c.Method == method {
			out = append(out, c.Msgid)
		}
	}
	return out
}

// Call is one call the fake received: the method and the msgid.
type Call struct {
	Method, Msgid string
}

var _ agent.Insurance = (*Insurance)(nil)

// NewInsurance returns the fake over a fresh Model with its default
// patient (DefaultPatient) and catalogue.
func NewInsurance() *Insurance { return &Insurance{Model: NewInsuranceModel()} }

// Calls returns the calls received, in order.
func (f *Insurance) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Count returns how many times a method was called.
func (f *Insurance) Count(method string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

func (f *Insurance) record(method, msgid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: method, Msgid: msgid})
}

func (f *Insurance) Identify(ctx context.Context, r agent.IdentifyRequest) (agent.Person, error) {
	f.record("Identify", r.Msgid)
	if err := f.before(ctx, "Identify", r.Msgid); err != nil {
		var zero agent.Person
		return zero, err
	}
	if f.IdentifyFunc != nil {
		return f.IdentifyFunc(ctx, r)
	}
	return f.Model.Identify(ctx, r)
}

func (f *Insurance) Register(ctx context.Context, r agent.RegisterRequest) (agent.Visit, error) {
	f.record("Register", r.Msgid)
	if err := f.before(ctx, "Register", r.Msgid); err != nil {
		var zero agent.Visit
		return zero, err
	}
	if f.RegisterFunc != nil {
		return f.RegisterFunc(ctx, r)
	}
	return f.Model.Register(ctx, r)
}

func (f *Insurance) UploadFees(ctx context.Context, r agent.FeesRequest) ([]agent.LineResult, error) {
	f.record("UploadFees", r.Msgid)
	if err := f.before(ctx, "UploadFees", r.Msgid); err != nil {
		var zero []agent.LineResult
		return zero, err
	}
	if f.UploadFeesFunc != nil {
		return f.UploadFeesFunc(ctx, r)
	}
	return f.Model.UploadFees(ctx, r)
}

func (f *Insurance) PreSettle(ctx context.Context, r agent.SplitRequest) (agent.InsuranceSplit, error) {
	f.record("PreSettle", r.Msgid)
	if err := f.before(ctx, "PreSettle", r.Msgid); err != nil {
		var zero agent.InsuranceSplit
		return zero, err
	}
	if f.PreSettleFunc != nil {
		return f.PreSettleFunc(ctx, r)
	}
	return f.Model.PreSettle(ctx, r)
}

func (f *Insurance) Settle(ctx context.Context, r agent.SplitRequest) (agent.Booking, error) {
	f.record("Settle", r.Msgid)
	if err := f.before(ctx, "Settle", r.Msgid); err != nil {
		var zero agent.Booking
		return zero, err
	}
	if f.SettleFunc != nil {
		return f.SettleFunc(ctx, r)
	}
	return f.Model.Settle(ctx, r)
}

func (f *Insurance) Cancel(ctx context.Context, r agent.CancelRequest) (agent.Booking, error) {
	f.record("Cancel", r.Msgid)
	if err := f.before(ctx, "Cancel", r.Msgid); err != nil {
		var zero agent.Booking
		return zero, err
	}
	if f.CancelFunc != nil {
		return f.CancelFunc(ctx, r)
	}
	return f.Model.Cancel(ctx, r)
}

func (f *Insurance) Reverse(ctx context.Context, r agent.ReverseRequest) (agent.Reversal, error) {
	f.record("Reverse", r.Msgid)
	if err := f.before(ctx, "Reverse", r.Msgid); err != nil {
		var zero agent.Reversal
		return zero, err
	}
	if f.ReverseFunc != nil {
		return f.ReverseFunc(ctx, r)
	}
	return f.Model.Reverse(ctx, r)
}

func (f *Insurance) ReconcileTotals(ctx context.Context, r agent.TotalsRequest) (agent.TotalsResult, error) {
	f.record("ReconcileTotals", r.Msgid)
	if err := f.before(ctx, "ReconcileTotals", r.Msgid); err != nil {
		var zero agent.TotalsResult
		return zero, err
	}
	if f.ReconcileTotalsFunc != nil {
		return f.ReconcileTotalsFunc(ctx, r)
	}
	return f.Model.ReconcileTotals(ctx, r)
}

func (f *Insurance) ReconcileDetail(ctx context.Context, r agent.DetailRequest) ([]agent.DetailResult, error) {
	f.record("ReconcileDetail", r.Compare.Msgid)
	if err := f.before(ctx, "ReconcileDetail", r.Compare.Msgid); err != nil {
		var zero []agent.DetailResult
		return zero, err
	}
	if f.ReconcileDetailFunc != nil {
		return f.ReconcileDetailFunc(ctx, r)
	}
	return f.Model.ReconcileDetail(ctx, r)
}

func (f *Insurance) Policy(ctx context.Context, x agent.Exchange) (agent.Policy, error) {
	f.record("Policy", x.Msgid)
	if err := f.before(ctx, "Policy", x.Msgid); err != nil {
		var zero agent.Policy
		return zero, err
	}
	if f.PolicyFunc != nil {
		return f.PolicyFunc(ctx, x)
	}
	return f.Model.Policy(ctx, x)
}

func (f *Insurance) TrustList(ctx context.Context, x agent.Exchange, since uint64) ([]byte, error) {
	f.record("TrustList", x.Msgid)
	if err := f.before(ctx, "TrustList", x.Msgid); err != nil {
		var zero []byte
		return zero, err
	}
	if f.TrustListFunc != nil {
		return f.TrustListFunc(ctx, x, since)
	}
	return f.Model.TrustList(ctx, x, since)
}

// EVoucher is a scriptable agent.EVoucher over a Model: Code shows a code
// for one of the Model's people, and Query resolves it into a token the
// Model's Identify accepts (certificate type 01). QueryFunc, when set,
// answers instead.
type EVoucher struct {
	Model     *InsuranceModel
	QueryFunc func(context.Context, agent.EVoucherQuery) (agent.EVoucherHolder, error)
}

var _ agent.EVoucher = (*EVoucher)(nil)

// Code returns a fresh single-use code for the person with an ID number.
func (e *EVoucher) Code(idNo string) string { return e.Model.newCode(idNo) }

func (e *EVoucher) Query(ctx context.Context, q agent.EVoucherQuery) (agent.EVoucherHolder, error) {
	if e.QueryFunc != nil {
		return e.QueryFunc(ctx, q)
	}
	return e.Model.resolveCode(q)
}
