package sandbox_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// booked is a settlement as the platform answered its 2207, in the form a
// terminal lists it for 3202.
func booked(out protocol.SettleOutput) protocol.ReconcileItem {
	s := out.Setlinfo
	return protocol.ReconcileItem{
		Msgid: s.MedinsSetlID, SetlID: s.SetlID,
		MedfeeSumamt: s.MedfeeSumamt, FundPaySumamt: s.FundPaySumamt, AcctPay: s.AcctPay, PsnCashPay: s.PsnCashPay,
	}
}

func split(total, fund, acct, cash money.Fen) protocol.ReconcileItem {
	return protocol.ReconcileItem{
		MedfeeSumamt: protocol.Amount(total), FundPaySumamt: protocol.Amount(fund),
		AcctPay: protocol.Amount(acct), PsnCashPay: protocol.Amount(cash),
	}
}

func sameSplit(a, b protocol.ReconcileItem) bool {
	return a.MedfeeSumamt == b.MedfeeSumamt && a.FundPaySumamt == b.FundPaySumamt && a.AcctPay == b.AcctPay && a.PsnCashPay == b.PsnCashPay
}

// dayOfBooks is a day of two terminals: DESK01 books four settlements
// on the 23rd (one later cancelled, one later reversed) and one on the
// 24th; DESK02 books one on the 23rd.
type dayOfBooks struct {
	acct, deductible, resident, cancelled, reversed, otherDesk, nextDay protocol.ReconcileItem
}

func bookADay(t *testing.T, h *harness) dayOfBooks {
	t.Helper()
	var d dayOfBooks
	d.acct = booked(h.settle(h.prepare("acct-first", classA(cny(100)))))
	d.deductible = booked(h.settle(h.prepare("deductible-met", classA(cny(200)))))
	d.resident = booked(h.settle(h.prepare("resident-390", classA(cny(200)))))
	cancelled := h.settle(h.prepare("near-cap", classA(cny(200))))
	d.cancelled = booked(cancelled)
	reversed := h.settle(h.prepare("bank-card", classA(cny(100))))
	d.reversed = booked(reversed)
	h.dev = "DESK02"
	d.otherDesk = booked(h.settle(h.prepare("credit-fallback", classA(cny(100)))))
	h.dev = devNo
	ok[protocol.CancelOutput](h, "2208", protocol.CancelInput{Data: protocol.CancelData{
		SetlID: cancelled.Setlinfo.SetlID, MdtrtID: cancelled.Setlinfo.MdtrtID, PsnNo: cancelled.Setlinfo.PsnNo}})
	ok[protocol.ReverseOutput](h, "2601", protocol.ReverseInput{Data: protocol.ReverseData{
		PsnNo: reversed.Setlinfo.PsnNo, Omsgid: reversed.Setlinfo.MedinsSetlID, Oinfno: "2207"}})
	h.clock.Set(start.Add(24 * time.Hour))
	h.signIn()
	d.nextDay = booked(h.settle(h.prepare("acct-first", classA(cny(50)))))

	// The splits the cases below rely on, to the fen.
	for name, c := range map[string]struct{ got, want protocol.ReconcileItem }{
		"acct-first":     {d.acct, split(cny(100), 0, cny(100), 0)},
		"deductible-met": {d.deductible, split(cny(200), cny(140), cny(60), 0)},
		"resident-390":   {d.resident, split(cny(200), cny(50), 0, cny(150))},
	} {
		if !sameSplit(c.got, c.want) {
			t.Fatalf("%s booked %+v, want %+v", name, c.got, c.want)
		}
	}
	return d
}

func TestReconciliationTotalsPerTerminal(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	d := bookADay(t, h)
	totals := func(dev string, items ...protocol.ReconcileItem) protocol.ReconcileInput {
		in := protocol.ReconcileInput{Data: protocol.ReconcileData{DevNo: dev, ClrType: "11", StmtBegndate: "2026-11-23", StmtEnddate: "2026-11-23", FixmedinsSetlCnt: int64(len(items))}}
		for _, it := range items {
			in.Data.MedfeeSumamt += it.MedfeeSumamt
			in.Data.FundPaySumamt += it.FundPaySumamt
			in.Data.AcctPay += it.AcctPay
		}
		return in
	}
	tests := []struct {
		name string
		in   protocol.ReconcileInput
		rslt string
	}{
		{"the first desk's own", totals(devNo, d.acct, d.deductible, d.resident), protocol.StmtBalanced},
		{"the second desk's own", totals("DESK02", d.otherDesk), protocol.StmtBalanced},
		{"the institution's", totals("", d.acct, d.deductible, d.resident, d.otherDesk), protocol.StmtBalanced},
		{"the first desk counting the second's", totals(devNo, d.acct, d.deductible, d.resident, d.otherDesk), protocol.StmtInstitutionMore},
		{"the institution missing the second desk", totals("", d.acct, d.deductible, d.resident), protocol.StmtPlatformMore},
		{"a desk that booked nothing", totals("DESK03"), protocol.StmtBalanced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := ok[protocol.ReconcileOutput](h, "3201", tt.in)
			if out.Stmtinfo.StmtRslt != tt.rslt {
				t.Fatalf("stmt_rslt %s (%s), want %s", out.Stmtinfo.StmtRslt, out.Stmtinfo.StmtRsltDscr, tt.rslt)
			}
		})
	}
	for _, s := range h.ledger().Settlements {
		want := devNo
		if s.Msgid == d.otherDesk.Msgid {
			want = "DESK02"
		}
		if s.DevNo != want {
			t.Errorf("ledger: settlement %s from dev_no %q, want %q", s.SetlID, s.DevNo, want)
		}
	}
}

func TestReconciliationDetail(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	d := bookADay(t, h)
	neverBooked := h.nextMsgid()
	oneFenMore := d.deductible
	oneFenMore.MedfeeSumamt += 1
	oneFenMore.AcctPay += 1
	// The same total, one fen of it on another line of the split.
	movedFen := d.deductible
	movedFen.AcctPay -= 1
	movedFen.PsnCashPay += 1
	// A terminal's record that does not even add up.
	unbalanced := d.deductible
	unbalanced.AcctPay += 1
	unknown := split(cny(10), 0, 0, cny(10))
	unknown.Msgid = neverBooked

	missingLocal := func(p protocol.ReconcileItem) protocol.ReconcileDiff {
		return protocol.ReconcileDiff{Kind: protocol.DiffMissingLocal, Msgid: p.Msgid, SetlID: p.SetlID, Platform: &p}
	}
	missingPlatform := func(l protocol.ReconcileItem) protocol.ReconcileDiff {
		return protocol.ReconcileDiff{Kind: protocol.DiffMissingPlatform, Msgid: l.Msgid, SetlID: l.SetlID, Local: &l}
	}
	mismatch := func(p, l protocol.ReconcileItem) protocol.ReconcileDiff {
		return protocol.ReconcileDiff{Kind: protocol.DiffAmountMismatch, Msgid: p.Msgid, SetlID: p.SetlID, Platform: &p, Local: &l}
	}
	day1 := []protocol.ReconcileItem{d.acct, d.deductible, d.resident}
	tests := []struct {
		name       string
		dev        string
		insutype   string
		begin, end string
		list       []protocol.ReconcileItem
		want       []protocol.ReconcileDiff
	}{
		{name: "the terminal's list is the platform's", dev: devNo, list: day1},
		{name: "a settlement the terminal did not list", dev: devNo,
			list: []protocol.ReconcileItem{d.acct, d.resident},
			want: []protocol.ReconcileDiff{missingLocal(d.deductible)}},
		{name: "a settlement the platform cancelled", dev: devNo,
			list: append(day1[:3:3], d.cancelled),
			want: []protocol.ReconcileDiff{missingPlatform(d.cancelled)}},
		{name: "a settlement the platform reversed", dev: devNo,
			list: append(day1[:3:3], d.reversed),
			want: []protocol.ReconcileDiff{missingPlatform(d.reversed)}},
		{name: "a msgid the platform never booked", dev: devNo,
			list: append(day1[:3:3], unknown),
			want: []protocol.ReconcileDiff{missingPlatform(unknown)}},
		{name: "one fen more on the terminal", dev: devNo,
			list: []protocol.ReconcileItem{d.acct, oneFenMore, d.resident},
			want: []protocol.ReconcileDiff{mismatch(d.deductible, oneFenMore)}},
		{name: "one fen paid by another part", dev: devNo,
			list: []protocol.ReconcileItem{d.acct, movedFen, d.resident},
			want: []protocol.ReconcileDiff{mismatch(d.deductible, movedFen)}},
		{name: "a terminal record that does not add up", dev: devNo,
			list: []protocol.ReconcileItem{d.acct, unbalanced, d.resident},
			want: []protocol.ReconcileDiff{mismatch(d.deductible, unbalanced)}},
		{name: "every kind at once", dev: devNo,
			list: []protocol.ReconcileItem{oneFenMore, d.resident, d.cancelled},
			want: []protocol.ReconcileDiff{missingLocal(d.acct), mismatch(d.deductible, oneFenMore), missingPlatform(d.cancelled)}},
		{name: "resident insurance only", dev: devNo, insutype: protocol.InsutypeResident,
			list: []protocol.ReconcileItem{d.acct},
			want: []protocol.ReconcileDiff{missingPlatform(d.acct), missingLocal(d.resident)}},
		{name: "the other terminal's settlement is not this terminal's", dev: "DESK02",
			list: []protocol.ReconcileItem{d.otherDesk}},
		{name: "the institution has both terminals'", dev: "",
			list: day1,
			want: []protocol.ReconcileDiff{missingLocal(d.otherDesk)}},
		{name: "two days", dev: devNo, end: "2026-11-24",
			list: day1,
			want: []protocol.ReconcileDiff{missingLocal(d.nextDay)}},
		{name: "an empty period", dev: devNo, begin: "2026-10-01", end: "2026-10-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			begin, end := tt.begin, tt.end
			if begin == "" {
				begin = "2026-11-23"
			}
			if end == "" {
				end = begin
			}
			out := ok[protocol.ReconcileDetailOutput](h, "3202", protocol.ReconcileDetailInput{
				Data:   protocol.ReconcileDetailQuery{DevNo: tt.dev, Insutype: tt.insutype, StmtBegndate: begin, StmtEnddate: end},
				Detail: tt.list,
			})
			want := tt.want
			if want == nil {
				want = []protocol.ReconcileDiff{}
			}
			sortDiffs(want)
			if !equalJSON(t, out.Diffs, want) {
				t.Fatalf("diffs\n%s\nwant\n%s", jsonOf(t, out.Diffs), jsonOf(t, want))
			}
		})
	}
}

func TestReconciliationDetailRefusals(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	a := booked(h.settle(h.prepare("acct-first", classA(cny(100)))))
	negative := a
	negative.PsnCashPay = -1
	foreign := a
	foreign.Msgid = inst2 + a.Msgid[12:]
	query := protocol.ReconcileDetailQuery{StmtBegndate: "2026-11-23", StmtEnddate: "2026-11-23"}
	tests := []struct {
		name  string
		query func(q *protocol.ReconcileDetailQuery)
		list  []protocol.ReconcileItem
		says  string
	}{
		{"a msgid listed twice", nil, []protocol.ReconcileItem{a, a}, "listed twice"},
		{"another institution's msgid", nil, []protocol.ReconcileItem{foreign}, "not a msgid of this institution"},
		{"a negative amount", nil, []protocol.ReconcileItem{negative}, "negative"},
		{"dates out of order", func(q *protocol.ReconcileDetailQuery) { q.StmtBegndate = "2026-11-24" }, nil, "dates in order"},
		{"an unknown insurance type", func(q *protocol.ReconcileDetailQuery) { q.Insutype = "999" }, nil, "insutype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := query
			if tt.query != nil {
				tt.query(&q)
			}
			resp := h.call("3202", protocol.ReconcileDetailInput{Data: q, Detail: tt.list})
			refused(t, resp, protocol.CodeBadRequest)
			mustContain(t, resp.ErrMsg, tt.says)
		})
	}
}

// sortDiffs orders diffs as the platform answers them: by msgid.
func sortDiffs(d []protocol.ReconcileDiff) {
	slices.SortFunc(d, func(a, b protocol.ReconcileDiff) int { return strings.Compare(a.Msgid, b.Msgid) })
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
