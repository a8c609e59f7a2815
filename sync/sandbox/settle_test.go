package sandbox_test

import (
	"testing"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

var cny = money.CNY

// want is the expected outcome of one settlement.
type want struct {
	fund, acct, cash money.Fen
}

func checkSettlement(t *testing.T, h *harness, b bill, out protocol.SettleOutput, w want) {
	t.Helper()
	s := out.Setlinfo
	if s.MedfeeSumamt.Fen() != b.total || s.FundPaySumamt.Fen() != w.fund || s.HifpPay.Fen() != w.fund ||
		s.AcctPay.Fen() != w.acct || s.PsnCashPay.Fen() != w.cash {
		t.Errorf("split: total %s fund %s acct %s cash %s; want %s %s %s %s",
			s.MedfeeSumamt.Fen(), s.FundPaySumamt.Fen(), s.AcctPay.Fen(), s.PsnCashPay.Fen(), b.total, w.fund, w.acct, w.cash)
	}
	if s.SetlID == "" || s.MdtrtID != b.mdtrtID || s.PsnNo != b.psnNo || len(s.MedinsSetlID) != protocol.MsgidLen {
		t.Errorf("setlinfo ids: %+v", s)
	}
}

// TestEveryPersonaSettlesAsItsRuleSays runs one scripted settlement per
// persona key and checks the insurance split: the fund's share by the
// policy, the personal account what it holds of the rest (employees only,
// the account used), the patient's own part the remainder, for the
// payment channel to take; and the account's balance after. Who pays the
// patient's part, from which source and within which limits, is the
// payment channel's (sync/sandbox/paychannel).
func TestEveryPersonaSettlesAsItsRuleSays(t *testing.T) {
	tests := []struct {
		key   string
		items []item
		fund  money.Fen
	}{
		{"acct-first", []item{classA(cny(100))}, 0},
		{"bank-card", []item{classA(cny(100))}, 0},
		{"credit-fallback", []item{classA(cny(100))}, 0},
		{"insufficient", []item{classA(cny(100))}, 0},
		{"low-limit", []item{classA(cny(100))}, 0},
		{"daily-limit", []item{classA(cny(100))}, 0},
		{"family-signer", []item{classA(cny(100))}, 0},
		{"family-child", []item{classA(cny(100))}, 0},
		{"family-confirm", []item{classA(cny(100))}, 0},
		{"no-agreement", []item{classA(cny(100))}, 0},
		{"elderly-no-credit", []item{classA(cny(100))}, 0},
		// 200 eligible, 100 of the deductible left: 50% of 100 is 50.
		{"resident-390", []item{classA(cny(200))}, cny(50)},
		// A 100 + B 100 (10 first) + C 50: 190 eligible at 70% is 133.
		{"deductible-met", []item{classA(cny(100)), {protocol.ClassB, 2, cny(50)}, {protocol.ClassC, 1, cny(50)}}, cny(133)},
		// 70% of 200 is 140, but only 50 of the cap is left.
		{"near-cap", []item{classA(cny(200))}, cny(50)},
		{"card-expired", []item{classA(cny(100))}, 0},
		{"card-blocked", []item{classA(cny(100))}, 0},
		// The two phone personas settle by ID number like anyone; their
		// codes are tested in credential_test.go.
		{"opaque-only", []item{classA(cny(100))}, 0},
		{"revoked-phone", []item{classA(cny(100))}, 0},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.key] = true
		t.Run(tt.key, func(t *testing.T) {
			h := newHarness(t)
			h.signIn()
			before, _ := h.ledger().Person(tt.key)
			b := h.prepare(tt.key, tt.items...)
			part := b.total - tt.fund
			var acct money.Fen
			if b.insutype == protocol.InsutypeEmployee {
				acct = min(before.AccountBalance.Fen(), part)
			}
			checkSettlement(t, h, b, h.settle(b), want{fund: tt.fund, acct: acct, cash: part - acct})
			after, _ := h.ledger().Person(tt.key)
			if got, want := after.AccountBalance.Fen(), before.AccountBalance.Fen()-acct; got != want {
				t.Errorf("account balance after: %s, want %s", got, want)
			}
			if after.BankBalance != before.BankBalance || after.CreditAvailable != before.CreditAvailable {
				t.Errorf("the insurance platform touched a bank card or a credit line")
			}
		})
	}

	covered["not-insured"] = true
	t.Run("not-insured", func(t *testing.T) {
		h := newHarness(t)
		h.signIn()
		p := h.person("not-insured")
		info := ok[protocol.PersonInfoOutput](h, "1101", personQuery(p.Certno))
		if info.Insuinfo[0].PsnInsuStas != "0" {
			t.Fatalf("1101 insuinfo %+v", info.Insuinfo)
		}
		refused(t, h.call("2201", protocol.RegisterInput{Data: protocol.RegisterData{PsnNo: p.PsnNo, Insutype: p.Insutype}}), protocol.CodeNotInsured)
	})

	data, _ := personas.Default()
	for _, p := range data.People {
		if !covered[p.Key] {
			t.Errorf("persona %q has no scripted settlement here", p.Key)
		}
	}
}

func TestTheDeductibleIsConsumedAcrossSettlementsAndYears(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	// acct-first has used nothing of the 500 deductible this year.
	b := h.prepare("acct-first", classA(cny(300)))
	checkSettlement(t, h, b, h.settle(b), want{acct: cny(300)})
	b = h.prepare("acct-first", classA(cny(300)))
	// 200 left of the deductible, 100 above it at 70%.
	checkSettlement(t, h, b, h.settle(b), want{fund: cny(70), acct: cny(230)})
	lp, _ := h.ledger().Person("acct-first")
	if u := lp.Years["2026"]; u.DeductibleUsed.Fen() != cny(500) || u.FundPaid.Fen() != cny(70) {
		t.Fatalf("2026 usage %+v", u)
	}
	h.clock.Set(timeIn(2027, 1, 1))
	h.signIn()
	b = h.prepare("acct-first", classA(cny(100)))
	checkSettlement(t, h, b, h.settle(b), want{acct: cny(100)})
}

func TestCancelReturnsEveryPart(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	before := h.ledger()
	b := h.prepare("near-cap", classA(cny(200)))
	out := h.settle(b)
	cancel := protocol.CancelInput{Data: protocol.CancelData{SetlID: out.Setlinfo.SetlID, MdtrtID: b.mdtrtID, PsnNo: b.psnNo}}
	c := ok[protocol.CancelOutput](h, "2208", cancel)
	s := c.Setlinfo
	if s.MedfeeSumamt.Fen() != -cny(200) || s.FundPaySumamt.Fen() != -cny(50) || s.AcctPay.Fen() != -cny(150) || s.PsnCashPay.Fen() != 0 || !s.Balanced() {
		t.Fatalf("cancel setlinfo %+v", s)
	}
	if s.Balc.Fen() != cny(2000) {
		t.Fatalf("balc after cancel %s", s.Balc.Fen())
	}
	if c.Payresult.Status != protocol.PayRefunded || c.Payresult.Source != protocol.SourceAccount {
		t.Fatalf("payresult %+v", c.Payresult)
	}
	after := h.ledger()
	pb, _ := before.Person("near-cap")
	pa, _ := after.Person("near-cap")
	if !equalJSON(t, pb.Years, pa.Years) || pb.AccountBalance != pa.AccountBalance {
		t.Fatalf("cancel left %+v, was %+v", pa, pb)
	}
	if !after.Settlements[0].Cancelled {
		t.Fatal("ledger does not show the cancel")
	}
	refused(t, h.call("2208", cancel), protocol.CodeAlreadyRefunded)
	unknown := cancel
	unknown.Data.SetlID = "441900202611230000009999"
	refused(t, h.call("2208", unknown), protocol.CodeNotFound)
	other := cancel
	other.Data.PsnNo = h.person("acct-first").PsnNo
	refused(t, h.call("2208", other), protocol.CodeBadRequest)
	// The batch can be settled again after its cancel.
	again := h.settle(b)
	if again.Setlinfo.SetlID == out.Setlinfo.SetlID {
		t.Fatal("re-settlement reused the setl_id")
	}
}

func TestFamilyPayRefundGoesBackToTheSigner(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("family-child", classA(cny(100)))
	out := h.settle(b)
	ok[protocol.CancelOutput](h, "2208", protocol.CancelInput{Data: protocol.CancelData{SetlID: out.Setlinfo.SetlID, MdtrtID: b.mdtrtID, PsnNo: b.psnNo}})
	signer, _ := h.ledger().Person("family-signer")
	if signer.AccountBalance.Fen() != cny(3000) || signer.Days["2026-11-23"].Fen() != 0 {
		t.Fatalf("signer after refund %+v", signer)
	}
}

func TestPreSettlementBooksNothing(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(100)))
	before := h.ledger()
	pre := ok[protocol.PreSettleOutput](h, "2206", protocol.PreSettleInput{Data: b.query()})
	if pre.Payplan.Status != protocol.PayPaid || pre.Setlinfo.AcctPay.Fen() != cny(100) || pre.Setlinfo.Balc.Fen() != cny(1900) {
		t.Fatalf("2206 %+v", pre)
	}
	if !equalJSON(t, before, h.ledger()) {
		t.Fatal("2206 changed the ledger")
	}
}

func TestSettlementRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(h *harness, in *protocol.SettleInput)
		code   string
	}{
		{"a total that is not the items' sum", func(h *harness, in *protocol.SettleInput) { in.Data.MedfeeSumamt++ }, protocol.CodeBadRequest},
		{"class sums that are not the upload's", func(h *harness, in *protocol.SettleInput) { in.Data.InscpScpAmt-- }, protocol.CodeBadRequest},
		{"a batch never uploaded", func(h *harness, in *protocol.SettleInput) { in.Data.ChrgBchno = "NOPE" }, protocol.CodeBadRequest},
		{"an unknown visit", func(h *harness, in *protocol.SettleInput) { in.Data.MdtrtID = "X" }, protocol.CodeNotFound},
		{"someone else's visit", func(h *harness, in *protocol.SettleInput) { in.Data.PsnNo = h.person("bank-card").PsnNo }, protocol.CodeBadRequest},
		{"another insurance type", func(h *harness, in *protocol.SettleInput) { in.Data.Insutype = "390" }, protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.signIn()
			b := h.prepare("acct-first", classA(cny(100)))
			before := h.ledger()
			in := b.settleInput()
			tt.mutate(h, &in)
			msgid := h.nextMsgid()
			refused(t, h.callAs("2207", msgid, in), tt.code)
			if !equalJSON(t, before, h.ledger()) {
				t.Fatal("a refused settlement changed the ledger")
			}
			// The refusal is the msgid's answer.
			again := h.callAs("2207", msgid, in)
			refused(t, again, tt.code)
			if again.WarnMsg != protocol.CodeDuplicate {
				t.Fatalf("refusal not replayed: %+v", again)
			}
		})
	}
}

func TestABatchIsSettledOnce(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(100)))
	h.settle(b)
	refused(t, h.call("2207", b.settleInput()), protocol.CodeBadRequest)
	refused(t, h.call("2204", protocol.UploadFeesInput{Feedetail: []protocol.FeeDetail{{
		FeedetlSn: "9", MdtrtID: b.mdtrtID, PsnNo: b.psnNo, ChrgBchno: b.chrgBchno, DetItemFeeSumamt: 100, Cnt: 1, Pric: 100, ChrgitmLv: "01",
	}}}), protocol.CodeBadRequest)
}

func TestASettlementAnswerIsReplayedNotRebooked(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(100)))
	msgid := h.nextMsgid()
	first := output[protocol.SettleOutput](t, h.callAs("2207", msgid, b.settleInput()))
	h.reopen()
	resp := h.callAs("2207", msgid, b.settleInput())
	if resp.WarnMsg != protocol.CodeDuplicate || !equalJSON(t, output[protocol.SettleOutput](t, resp), first) {
		t.Fatalf("replay after restart: %+v", resp)
	}
	l := h.ledger()
	lp, _ := l.Person("acct-first")
	if len(l.Settlements) != 1 || lp.AccountBalance.Fen() != cny(1900) {
		t.Fatalf("booked %d settlements, account %s", len(l.Settlements), lp.AccountBalance.Fen())
	}
}

func TestFeeUpload(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", item{protocol.ClassB, 3, 333}, item{protocol.ClassC, 1, cny(5)})
	r := b.fees.Result
	if len(r) != 2 || r[0].PreselfpayAmt.Fen() != 99 || r[0].InscpScpAmt.Fen() != 900 || r[0].FulamtOwnpayAmt != 0 ||
		r[1].FulamtOwnpayAmt.Fen() != cny(5) || r[1].InscpScpAmt != 0 {
		t.Fatalf("results %+v", r)
	}
	fee := func(mutate func(f *protocol.FeeDetail)) protocol.UploadFeesInput {
		f := protocol.FeeDetail{FeedetlSn: "7", MdtrtID: b.mdtrtID, PsnNo: b.psnNo, ChrgBchno: "B-NEW", DetItemFeeSumamt: 300, Cnt: 3, Pric: 100, ChrgitmLv: "01"}
		mutate(&f)
		return protocol.UploadFeesInput{Feedetail: []protocol.FeeDetail{f}}
	}
	for name, tt := range map[string]struct {
		in   protocol.UploadFeesInput
		code string
	}{
		"amount is not cnt × pric": {fee(func(f *protocol.FeeDetail) { f.DetItemFeeSumamt = 301 }), protocol.CodeBadRequest},
		"zero count":               {fee(func(f *protocol.FeeDetail) { f.Cnt, f.DetItemFeeSumamt = 0, 0 }), protocol.CodeBadRequest},
		"negative price":           {fee(func(f *protocol.FeeDetail) { f.Pric, f.DetItemFeeSumamt = -100, -300 }), protocol.CodeBadRequest},
		"unknown class":            {fee(func(f *protocol.FeeDetail) { f.ChrgitmLv = "09" }), protocol.CodeBadRequest},
		"another person":           {fee(func(f *protocol.FeeDetail) { f.PsnNo = h.person("bank-card").PsnNo }), protocol.CodeBadRequest},
		"unknown visit":            {fee(func(f *protocol.FeeDetail) { f.MdtrtID = "nope" }), protocol.CodeNotFound},
		"no items":                 {protocol.UploadFeesInput{}, protocol.CodeBadRequest},
		"the same item twice": {protocol.UploadFeesInput{Feedetail: append(fee(func(*protocol.FeeDetail) {}).Feedetail,
			fee(func(*protocol.FeeDetail) {}).Feedetail...)}, protocol.CodeBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, h.call("2204", tt.in), tt.code)
			// Nothing of a refused upload is stored: the batch is empty.
			q := b.query()
			q.ChrgBchno = "B-NEW"
			resp := h.call("2206", protocol.PreSettleInput{Data: q})
			refused(t, resp, protocol.CodeBadRequest)
			mustContain(t, resp.ErrMsg, "no fee items")
		})
	}
}

func TestPersonInfo(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	byCard := func(key string) protocol.PersonInfoInput {
		c := h.person(key).Card
		return protocol.PersonInfoInput{Data: protocol.PersonQuery{MdtrtCertType: protocol.CertSSCard, MdtrtCertNo: c.CardNo, CardSn: c.CardSn}}
	}
	out := ok[protocol.PersonInfoOutput](h, "1101", byCard("family-child"))
	p := h.person("family-child")
	if out.Baseinfo.Certno != p.Certno || out.Baseinfo.PsnName != p.Name || out.Baseinfo.Age != 105 /* 10.5 years: 1101's age is decimal */ || out.Insuinfo[0].Balc != 0 {
		t.Fatalf("family-child by card: %+v %+v", out.Baseinfo, out.Insuinfo)
	}
	pi := out.Payinfo
	if pi.Agreement || pi.FamilyOf == nil || pi.FamilyOf.SignerPsnNo != h.person("family-signer").PsnNo || pi.FamilyOf.Relation != "child" ||
		pi.ConfirmRequired || len(pi.Sources) != 3 || pi.Sources[1].Label != "中国银行 ****1357" {
		t.Fatalf("family-child payinfo %+v", pi)
	}
	out = ok[protocol.PersonInfoOutput](h, "1101", personQuery(h.person("resident-390").Certno))
	if pi := out.Payinfo; len(pi.Sources) != 1 || pi.Sources[0].Kind != protocol.SourceBank || pi.LimitPerTxn.Fen() != cny(300) {
		t.Fatalf("a resident's account is not a source: %+v", pi)
	}
	out = ok[protocol.PersonInfoOutput](h, "1101", personQuery(h.person("low-limit").Certno))
	if pi := out.Payinfo; pi.LimitPerTxn.Fen() != cny(50) || pi.LimitDaily.Fen() != cny(1000) || out.Insuinfo[0].Balc.Fen() != cny(3000) {
		t.Fatalf("own limits: %+v", pi)
	}
	out = ok[protocol.PersonInfoOutput](h, "1101", personQuery(h.person("family-confirm").Certno))
	if !out.Payinfo.ConfirmRequired {
		t.Fatalf("confirm-first: %+v", out.Payinfo)
	}

	expired := h.call("1101", byCard("card-expired"))
	refused(t, expired, protocol.CodeCardInvalid)
	mustContain(t, expired.ErrMsg, "expired on 2020-06-01")
	blocked := h.call("1101", byCard("card-blocked"))
	refused(t, blocked, protocol.CodeCardInvalid)
	mustContain(t, blocked.ErrMsg, "blocked")

	wrongSn := byCard("acct-first")
	wrongSn.Data.CardSn = h.person("bank-card").Card.CardSn
	refused(t, h.call("1101", wrongSn), protocol.CodeNotFound)
	withName := personQuery(h.person("acct-first").Certno)
	withName.Data.PsnName = h.person("acct-first").Name
	ok[protocol.PersonInfoOutput](h, "1101", withName)
	withName.Data.PsnName = "王五"
	refused(t, h.call("1101", withName), protocol.CodeNotFound)
	refused(t, h.call("1101", protocol.PersonInfoInput{Data: protocol.PersonQuery{MdtrtCertType: "07", MdtrtCertNo: "x"}}), protocol.CodeBadRequest)
}

func TestRegistration(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	reg := func(key string, mutate func(d *protocol.RegisterData)) protocol.Response {
		p := h.person(key)
		d := protocol.RegisterData{PsnNo: p.PsnNo, Insutype: p.Insutype, MdtrtCertType: protocol.CertIDNo, MdtrtCertNo: p.Certno}
		if mutate != nil {
			mutate(&d)
		}
		return h.call("2201", protocol.RegisterInput{Data: d})
	}
	refused(t, reg("not-insured", nil), protocol.CodeNotInsured)
	refused(t, reg("acct-first", func(d *protocol.RegisterData) { d.PsnNo = "1" }), protocol.CodeNotFound)
	refused(t, reg("acct-first", func(d *protocol.RegisterData) { d.Insutype = "390" }), protocol.CodeBadRequest)
	refused(t, reg("acct-first", func(d *protocol.RegisterData) { d.MdtrtCertNo = h.person("bank-card").Certno }), protocol.CodeBadRequest)
	a := output[protocol.RegisterOutput](t, reg("acct-first", nil))
	b := output[protocol.RegisterOutput](t, reg("acct-first", nil))
	if a.Data.MdtrtID == b.Data.MdtrtID || len(a.Data.MdtrtID) != 24 {
		t.Fatalf("mdtrt_ids %q %q", a.Data.MdtrtID, b.Data.MdtrtID)
	}
}
