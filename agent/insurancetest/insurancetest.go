// Package insurancetest is the contract of agent.Insurance and
// agent.EVoucher as one specification, run against every implementation:
// the scriptable fake (agent/agenttest) and the national-interface adapter
// over the sandbox platform (sync/insurance). A behaviour the core may rely
// on is written here once, so the fake cannot drift from the real thing.
package insurancetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
)

// Harness is one fresh platform and what the specification needs to know
// of it.
type Harness struct {
	Insurance agent.Insurance
	// Msgid allocates a fresh msgid.
	Msgid func() string
	// Now is the platform's time: the visit's, the reconciliation day's.
	Now      func() time.Time
	Operator agent.Operator
	// Patient identifies an employee (310) with a personal account whose
	// self-pay part of a bill under 100 CNY the account covers.
	Patient agent.IdentifyRequest
	// Unknown identifies no one the platform knows.
	Unknown agent.IdentifyRequest
	// ClassA, ClassB and ClassC are national codes the platform's
	// catalogue classes 01, 02 and 03.
	ClassA, ClassB, ClassC string

	// EVoucher, when set, is the e-voucher component, and Code shows a
	// fresh code of a holder the platform knows.
	EVoucher agent.EVoucher
	Code     func(t *testing.T) string
}

// Run runs the specification, each case on a fresh harness.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	cases := []struct {
		name string
		f    func(t *testing.T, h *Harness)
	}{
		{"identifies an insured patient", identifies},
		{"refuses an unknown patient as processed", refusesUnknown},
		{"classes each line by the catalogue, in the order sent", classesLines},
		{"pre-settles and settles the same balanced split", settles},
		{"answers a resent settlement with its first booking", resendIsIdempotent},
		{"leaves the account out when told to", accountOut},
		{"cancels a settlement under a booking of its own", cancels},
		{"refuses a second cancel as processed", cancelTwice},
		{"reverses a settlement it booked", reversesFound},
		{"reverses a msgid it never saw and refuses it after", reversesNotFound},
		{"reconciles a day's totals", reconcilesTotals},
		{"reconciles a day's detail line by line", reconcilesDetail},
		{"publishes its policy and trust list", publishes},
		{"resolves an e-voucher code into a token 1101 accepts", evoucher},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.f(t, h)
		})
	}
}

func (h *Harness) x() agent.Exchange { return agent.Exchange{Msgid: h.Msgid(), Operator: h.Operator} }

func ctx(t *testing.T) context.Context { return t.Context() }

// visit is a patient identified, registered and billed: three lines, one
// of each class, under 100 CNY.
type visit struct {
	person agent.Person
	ins    agent.Insured
	mdtrt  string
	batch  string
	lines  []agent.FeeLine
	res    []agent.LineResult
	total  money.Fen
}

func (h *Harness) identify(t *testing.T) (agent.Person, agent.Insured) {
	t.Helper()
	r := h.Patient
	r.Exchange = h.x()
	p, err := h.Insurance.Identify(ctx(t), r)
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	in, ok := p.Active()
	if !ok || !in.Active {
		t.Fatalf("no active insurance: %+v", p.Insurances)
	}
	return p, in
}

func (h *Harness) visit(t *testing.T) visit {
	t.Helper()
	var v visit
	v.person, v.ins = h.identify(t)
	x := h.x()
	x.Region = v.ins.Region
	reg, err := h.Insurance.Register(ctx(t), agent.RegisterRequest{
		Exchange: x, PsnNo: v.person.PsnNo, Insutype: v.ins.Type, CertType: h.Patient.CertType, CertNo: h.Patient.CertNo,
		CardSN: h.Patient.CardSN, VisitNo: "MZ" + x.Msgid[20:], DoctorID: "D017", DoctorName: "测试医生",
		DeptCode: "A03", DeptName: "内科", DeptCategory: "A03", At: h.Now(),
	})
	if err != nil || reg.MdtrtID == "" {
		t.Fatalf("Register: %+v %v", reg, err)
	}
	v.mdtrt = reg.MdtrtID
	for i, l := range []struct {
		code string
		qty  money.Quantity
		pric money.Price
	}{
		{h.ClassA, 5000, 12_345_678},  // half a box at 12.345678 yuan: 6.17
		{h.ClassB, 20_000, 9_990_000}, // two at 9.99: 19.98
		{h.ClassC, 10_000, 25_500_000},
	} {
		v.lines = append(v.lines, agent.FeeLine{Seq: fmt.Sprintf("%s-%d", x.Msgid[22:], i+1), Code: l.code, HospCode: "H" + l.code,
			Quantity: l.qty, Price: l.pric, Amount: money.LineAmount(l.qty, l.pric), HospApproval: "1"})
		v.total += money.LineAmount(l.qty, l.pric)
	}
	fx := h.x()
	fx.Region = v.ins.Region
	v.batch = "B" + fx.Msgid[20:]
	v.res, err = h.Insurance.UploadFees(ctx(t), agent.FeesRequest{Exchange: fx, PsnNo: v.person.PsnNo, MdtrtID: v.mdtrt,
		Batch: v.batch, At: h.Now(), DeptCode: "A03", DeptName: "内科", DoctorID: "D017", DoctorName: "测试医生", Lines: v.lines})
	if err != nil {
		t.Fatalf("UploadFees: %v", err)
	}
	return v
}

// splitFor is a pre-settlement or settlement of the visit's batch under a
// fresh msgid.
func (h *Harness) splitFor(v visit, useAccount bool) agent.SplitRequest {
	x := h.x()
	x.Region = v.ins.Region
	return agent.SplitRequest{Exchange: x, PsnNo: v.person.PsnNo, Insutype: v.ins.Type, MdtrtID: v.mdtrt,
		Batch: v.batch, CertType: h.Patient.CertType, CertNo: h.Patient.CertNo, CardSN: h.Patient.CardSN,
		Total: v.total, UseAccount: useAccount}
}

func (h *Harness) settle(t *testing.T) (visit, agent.SplitRequest, agent.Booking) {
	t.Helper()
	v := h.visit(t)
	pre, err := h.Insurance.PreSettle(ctx(t), h.splitFor(v, true))
	if err != nil {
		t.Fatalf("PreSettle: %v", err)
	}
	r := h.splitFor(v, true)
	r.Pre, r.InvoiceNo = pre, "INV"+r.Msgid[20:]
	b, err := h.Insurance.Settle(ctx(t), r)
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	return v, r, b
}

func mustRefusal(t *testing.T, err error, what string) *agent.Refusal {
	t.Helper()
	var ref *agent.Refusal
	if !errors.As(err, &ref) {
		t.Fatalf("%s: %v; want a refusal", what, err)
	}
	return ref
}

func identifies(t *testing.T, h *Harness) {
	p, in := h.identify(t)
	if p.PsnNo == "" || p.IDNo == "" || p.Name == "" || p.AgeTenths <= 0 || len(p.Birth) != 10 {
		t.Fatalf("person %+v", p)
	}
	if in.Type != "310" || in.Region == "" || in.Balance <= 0 {
		t.Fatalf("insurance %+v", in)
	}
	if h.Patient.IDNo != "" && p.IDNo != h.Patient.IDNo {
		t.Fatal("the person's ID number is not the patient's")
	}
}

func refusesUnknown(t *testing.T, h *Harness) {
	r := h.Unknown
	r.Exchange = h.x()
	_, err := h.Insurance.Identify(ctx(t), r)
	if ref := mustRefusal(t, err, "Identify of no one"); !ref.Processed() || ref.Message == "" {
		t.Fatalf("refusal %+v: want a processed one with the platform's words", ref)
	}
}

func classesLines(t *testing.T, h *Harness) {
	v := h.visit(t)
	if len(v.res) != len(v.lines) {
		t.Fatalf("%d results for %d lines", len(v.res), len(v.lines))
	}
	for i, want := range []string{"01", "02", "03"} {
		r := v.res[i]
		if r.Seq != v.lines[i].Seq || r.Class != want {
			t.Fatalf("line %d: %+v; want seq %s class %s", i, r, v.lines[i].Seq, want)
		}
		if r.Ownpay+r.Overlimit+r.Preselfpay+r.Eligible != v.lines[i].Amount {
			t.Fatalf("line %d does not split its amount %s: %+v", i, v.lines[i].Amount, r)
		}
	}
	if v.res[0].Eligible != v.lines[0].Amount || v.res[1].Preselfpay <= 0 || v.res[2].Ownpay != v.lines[2].Amount {
		t.Fatalf("class splits: %+v", v.res)
	}
}

func sums(res []agent.LineResult) (own, over, pre, elig money.Fen) {
	for _, r := range res {
		own, over, pre, elig = own+r.Ownpay, over+r.Overlimit, pre+r.Preselfpay, elig+r.Eligible
	}
	return
}

func settles(t *testing.T, h *Harness) {
	v := h.visit(t)
	pre, err := h.Insurance.PreSettle(ctx(t), h.splitFor(v, true))
	if err != nil {
		t.Fatalf("PreSettle: %v", err)
	}
	own, over, ps, elig := sums(v.res)
	if !pre.Balanced() || pre.Total != v.total || pre.Ownpay != own || pre.Overlimit != over || pre.Preselfpay != ps || pre.Eligible != elig {
		t.Fatalf("pre-settlement %+v of a bill of %s (lines %s/%s/%s/%s)", pre, v.total, own, over, ps, elig)
	}
	var funds money.Fen
	for _, f := range pre.Funds {
		if f.Amount == 0 || f.Kind == "" {
			t.Fatalf("fund part %+v", f)
		}
		funds += f.Amount
	}
	if funds != pre.Fund {
		t.Fatalf("funds %+v do not make the fund part %s", pre.Funds, pre.Fund)
	}
	r := h.splitFor(v, true)
	r.Pre, r.InvoiceNo = pre, "INV1"
	b, err := h.Insurance.Settle(ctx(t), r)
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if b.SetlID == "" || b.SetlDay == "" || !b.Split.Balanced() {
		t.Fatalf("booking %+v", b)
	}
	if !equal(b.Split, pre) {
		t.Fatalf("settled %+v, pre-settled %+v", b.Split, pre)
	}
}

func resendIsIdempotent(t *testing.T, h *Harness) {
	_, r, first := h.settle(t)
	again, err := h.Insurance.Settle(ctx(t), r)
	if err != nil || again.SetlID != first.SetlID || !equal(again.Split, first.Split) {
		t.Fatalf("resent: %+v %v; first %+v", again, err, first)
	}
}

func accountOut(t *testing.T, h *Harness) {
	v := h.visit(t)
	pre, err := h.Insurance.PreSettle(ctx(t), h.splitFor(v, false))
	if err != nil {
		t.Fatalf("PreSettle: %v", err)
	}
	if pre.Account != 0 || !pre.Balanced() {
		t.Fatalf("without the account: %+v", pre)
	}
}

func (h *Harness) cancel(t *testing.T, v visit, b agent.Booking) (agent.Booking, agent.CancelRequest, error) {
	x := h.x()
	x.Region = v.ins.Region
	r := agent.CancelRequest{Exchange: x, SetlID: b.SetlID, MdtrtID: v.mdtrt, PsnNo: v.person.PsnNo}
	c, err := h.Insurance.Cancel(ctx(t), r)
	return c, r, err
}

func cancels(t *testing.T, h *Harness) {
	v, _, b := h.settle(t)
	c, _, err := h.cancel(t, v, b)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if c.SetlID == "" || c.SetlID == b.SetlID || !c.Split.Balanced() || c.Split.Total != -b.Split.Total ||
		c.Split.Fund != -b.Split.Fund || c.Split.Account != -b.Split.Account || c.Split.Cash != -b.Split.Cash {
		t.Fatalf("cancellation %+v of %+v", c, b)
	}
}

func cancelTwice(t *testing.T, h *Harness) {
	v, _, b := h.settle(t)
	if _, _, err := h.cancel(t, v, b); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	_, _, err := h.cancel(t, v, b)
	if ref := mustRefusal(t, err, "a second cancel"); !ref.Processed() {
		t.Fatalf("refusal %+v: want a processed one", ref)
	}
}

func reversesFound(t *testing.T, h *Harness) {
	v, r, _ := h.settle(t)
	x := h.x()
	x.Region = v.ins.Region
	rev, err := h.Insurance.Reverse(ctx(t), agent.ReverseRequest{Exchange: x, PsnNo: v.person.PsnNo, Of: r.Msgid, What: agent.ReverseSettle})
	if err != nil || !rev.Found {
		t.Fatalf("Reverse of a booked settlement: %+v %v", rev, err)
	}
	// Undone: the day counts no settlement.
	tot, err := h.Insurance.ReconcileTotals(ctx(t), h.totals(v, nil))
	if err != nil || !tot.Balanced() {
		t.Fatalf("a day whose only settlement was reversed, reconciled as empty: %+v %v", tot, err)
	}
}

func reversesNotFound(t *testing.T, h *Harness) {
	v := h.visit(t)
	pre, err := h.Insurance.PreSettle(ctx(t), h.splitFor(v, true))
	if err != nil {
		t.Fatalf("PreSettle: %v", err)
	}
	r := h.splitFor(v, true) // allocated, never sent
	r.Pre = pre
	x := h.x()
	x.Region = v.ins.Region
	rev, err := h.Insurance.Reverse(ctx(t), agent.ReverseRequest{Exchange: x, PsnNo: v.person.PsnNo, Of: r.Msgid, What: agent.ReverseSettle})
	if err != nil || rev.Found {
		t.Fatalf("Reverse of a msgid never sent: %+v %v; want not found", rev, err)
	}
	_, err = h.Insurance.Settle(ctx(t), r)
	if ref := mustRefusal(t, err, "the reversed settlement arriving late"); !ref.Processed() {
		t.Fatalf("refusal %+v: want a processed one", ref)
	}
}

// totals is the day's totals request for the bookings given.
func (h *Harness) totals(v visit, bookings []agent.Booking) agent.TotalsRequest {
	r := agent.TotalsRequest{Exchange: h.x(), Insutype: v.ins.Type, ClearingType: "11", ClearingRegion: v.ins.Region,
		From: h.Now(), To: h.Now(), Count: len(bookings)}
	for _, b := range bookings {
		r.Total, r.Fund, r.Account = r.Total+b.Split.Total, r.Fund+b.Split.Fund, r.Account+b.Split.Account
	}
	return r
}

func reconcilesTotals(t *testing.T, h *Harness) {
	v, _, b := h.settle(t)
	res, err := h.Insurance.ReconcileTotals(ctx(t), h.totals(v, []agent.Booking{b}))
	if err != nil || !res.Balanced() {
		t.Fatalf("the day's own totals: %+v %v", res, err)
	}
	r := h.totals(v, []agent.Booking{b, b})
	res, err = h.Insurance.ReconcileTotals(ctx(t), r)
	if err != nil || res.Balanced() || res.Result != agent.TotalsInstitutionMore {
		t.Fatalf("counting the settlement twice: %+v %v; want %s", res, err, agent.TotalsInstitutionMore)
	}
	r = h.totals(v, nil)
	res, err = h.Insurance.ReconcileTotals(ctx(t), r)
	if err != nil || res.Result != agent.TotalsPlatformMore {
		t.Fatalf("missing the settlement: %+v %v; want %s", res, err, agent.TotalsPlatformMore)
	}
}

func reconcilesDetail(t *testing.T, h *Harness) {
	v, _, b := h.settle(t)
	c, _, err := h.cancel(t, v, b)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	v2, _, b2 := h.settle(t)
	lines := []agent.DetailLine{
		{SetlID: b.SetlID, MdtrtID: v.mdtrt, PsnNo: v.person.PsnNo, Total: b.Split.Total, Fund: b.Split.Fund, Account: b.Split.Account},
		{SetlID: c.SetlID, MdtrtID: v.mdtrt, PsnNo: v.person.PsnNo, Total: c.Split.Total, Fund: c.Split.Fund, Account: c.Split.Account, Refund: true},
		// The second settlement with another total, and one the platform
		// never booked.
		{SetlID: b2.SetlID, MdtrtID: v2.mdtrt, PsnNo: v2.person.PsnNo, Total: b2.Split.Total + 1, Fund: b2.Split.Fund, Account: b2.Split.Account + 1},
		{SetlID: "S-NEVER-BOOKED", MdtrtID: v2.mdtrt, PsnNo: v2.person.PsnNo, Total: 100, Fund: 0, Account: 100},
	}
	r := agent.DetailRequest{Upload: h.x(), Compare: h.x(), Download: h.x(), ClearingType: "11", ClearingRegion: v.ins.Region,
		From: h.Now(), To: h.Now(), Count: len(lines), Lines: lines}
	for _, l := range lines {
		r.Total, r.Fund = r.Total+l.Total, r.Fund+l.Fund
		r.Cash += l.Total - l.Fund - l.Account
	}
	res, err := h.Insurance.ReconcileDetail(ctx(t), r)
	if err != nil {
		t.Fatalf("ReconcileDetail: %v", err)
	}
	got := map[string]agent.DetailResult{}
	for _, d := range res {
		got[d.SetlID] = d
	}
	for setl, want := range map[string]string{
		b.SetlID: agent.TotalsBalanced, c.SetlID: agent.TotalsBalanced,
		b2.SetlID: agent.TotalsMismatch, "S-NEVER-BOOKED": agent.TotalsInstitutionMore,
	} {
		if d, ok := got[setl]; !ok || d.Result != want {
			t.Errorf("settlement %s: %+v (listed %v); want result %s", setl, d, ok, want)
		}
	}
	if d := got[c.SetlID]; !d.Refund || d.Total != c.Split.Total {
		t.Errorf("the cancellation's line: %+v", d)
	}
	if d := got[b.SetlID]; d.Msgid == "" || d.Total != b.Split.Total {
		t.Errorf("the settlement's line names no msgid or another total: %+v", d)
	}
	if len(res) != len(lines) {
		t.Errorf("%d results for %d lines: %+v", len(res), len(lines), res)
	}
}

func publishes(t *testing.T, h *Harness) {
	p, err := h.Insurance.Policy(ctx(t), h.x())
	if err != nil || p.Version == "" || len(p.Insurance) == 0 {
		t.Fatalf("Policy: %+v %v", p, err)
	}
	raw, err := h.Insurance.TrustList(ctx(t), h.x(), 0)
	if err != nil || !json.Valid(raw) {
		t.Fatalf("TrustList: %q %v", raw, err)
	}
}

func evoucher(t *testing.T, h *Harness) {
	if h.EVoucher == nil {
		t.Fatal("the harness has no e-voucher component: every implementation of the port must run this case")
	}
	holder, err := h.EVoucher.Query(ctx(t), agent.EVoucherQuery{Code: h.Code(t), BusinessType: agent.EVoucherRegister,
		OperatorID: "K01", OperatorName: "自助机01", DeptID: "A03", DeptName: "内科", Kiosk: true})
	if err != nil || holder.Token == "" || holder.IDNo == "" || holder.Region == "" {
		t.Fatalf("Query: %+v %v", holder, err)
	}
	p, err := h.Insurance.Identify(ctx(t), agent.IdentifyRequest{Exchange: h.x(), CertType: agent.CertEVoucher, CertNo: holder.Token,
		IDNo: holder.IDNo, Name: holder.Name, At: h.Now()})
	if err != nil || p.IDNo != holder.IDNo {
		t.Fatalf("Identify by the token: %+v %v", p, err)
	}
	// A code the component cannot resolve identifies no one.
	_, err = h.EVoucher.Query(ctx(t), agent.EVoucherQuery{Code: "NO-SUCH-CODE", BusinessType: agent.EVoucherRegister, OperatorID: "K01", OperatorName: "自助机01"})
	if err == nil {
		t.Fatal("an unknown code resolved")
	}
}

// equal compares splits field by field (Funds in order).
func equal(a, b agent.InsuranceSplit) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
