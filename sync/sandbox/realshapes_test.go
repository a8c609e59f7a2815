package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
)

// The sandbox answers in the national interface's real shapes; these pin
// the ones no other test reads.

// register identifies a persona and opens a visit.
func (h *harness) register(key string) bill {
	h.t.Helper()
	p := h.person(key)
	info := ok[protocol.PersonInfoOutput](h, "1101", personQuery(p.Certno))
	b := bill{psnNo: info.Baseinfo.PsnNo, insutype: p.Insutype}
	reg := ok[protocol.RegisterOutput](h, "2201", protocol.RegisterInput{Data: protocol.RegisterData{
		PsnNo: b.psnNo, Insutype: b.insutype, Begntime: protocol.FormatInfTime(h.clock.Now()), MdtrtCertType: protocol.CertIDNo,
		MdtrtCertNo: p.Certno, IptOtpNo: "OP1", AtddrNo: "D1", DrName: "测试医生", DeptCode: "A03", DeptName: "内科", Caty: "A03",
	}})
	b.mdtrtID, b.chrgBchno = reg.Data.MdtrtID, "B1"
	return b
}

func fee(b bill, sn, code, class string, cnt money.Quantity, pric money.Price) protocol.FeeDetail {
	return protocol.FeeDetail{FeedetlSn: sn, MdtrtID: b.mdtrtID, PsnNo: b.psnNo, ChrgBchno: b.chrgBchno, RxCircFlag: "0",
		FeeOcurTime: "2026-11-23 10:00:00", MedListCodg: code, MedinsListCodg: "H" + sn, Cnt: protocol.Cnt(cnt), Pric: protocol.Pric(pric),
		DetItemFeeSumamt: protocol.Amount(money.LineAmount(cnt, pric)), BilgDeptCodg: "A03", BilgDeptName: "内科",
		BilgDrCodg: "D1", BilgDrName: "测试医生", HospApprFlag: "1", ChrgitmLv: class}
}

func TestTheCatalogueClassesALineNotTheHIS(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.register("acct-first")
	out := ok[protocol.UploadFeesOutput](h, "2204", protocol.UploadFeesInput{Feedetail: protocol.OneOrMany[protocol.FeeDetail]{
		// a catalogued class C item the old core calls class A
		fee(b, "1", sandbox.CatalogueCode(protocol.ClassC), protocol.ClassA, 10_000, 25_500_000),
		// half a box at a six-decimal price: 0.5 × 12.345678 = 6.172839 → 6.17
		fee(b, "2", sandbox.CatalogueCode(protocol.ClassB), "", 5000, 12_345_678),
		// an unknown code, no class: class A
		fee(b, "3", "XZ99ZZZ000000000000000", "", 10_000, 1_000_000),
	}})
	r := out.Result
	if r[0].ChrgitmLv != protocol.ClassC || r[0].FulamtOwnpayAmt != 2550 || r[0].SelfpayProp != 10_000 {
		t.Errorf("catalogued class C: %+v", r[0])
	}
	if r[1].ChrgitmLv != protocol.ClassB || r[1].DetItemFeeSumamt != 617 || r[1].SelfpayProp != 1000 || r[1].Cnt != 5000 || r[1].Pric != 12_345_678 {
		t.Errorf("class B at six decimals: %+v", r[1])
	}
	if r[2].ChrgitmLv != protocol.ClassA || r[2].InscpScpAmt != 100 {
		t.Errorf("unknown code: %+v", r[2])
	}
	// An amount rounded otherwise than half up is refused.
	bad := fee(b, "4", sandbox.CatalogueCode(protocol.ClassA), "", 5000, 12_345_678)
	bad.DetItemFeeSumamt = 618
	refused(t, h.call("2204", protocol.UploadFeesInput{Feedetail: protocol.OneOrMany[protocol.FeeDetail]{bad}}), protocol.CodeBadRequest)
}

func TestFeeAndRegistrationCancelsAnswerWithoutOutput(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.register("acct-first")
	ok[protocol.UploadFeesOutput](h, "2204", protocol.UploadFeesInput{Feedetail: protocol.OneOrMany[protocol.FeeDetail]{
		fee(b, "1", sandbox.CatalogueCode(protocol.ClassA), "", 10_000, 5_000_000)}})
	resp := h.call("2205", protocol.FeesCancelInput{Data: protocol.FeesCancelData{MdtrtID: b.mdtrtID, ChrgBchno: protocol.AllBatches, PsnNo: b.psnNo}})
	if !resp.OK() || resp.Output != nil {
		t.Fatalf("2205: %+v", resp)
	}
	b.total = 500
	refused(t, h.call("2206", protocol.PreSettleInput{Data: b.query()}), protocol.CodeBadRequest) // no items left
	resp = h.call("2202", protocol.RegisterCancelInput{Data: protocol.RegisterCancelData{PsnNo: b.psnNo, MdtrtID: b.mdtrtID, IptOtpNo: "OP1"}})
	if !resp.OK() || resp.Output != nil {
		t.Fatalf("2202: %+v", resp)
	}
	refused(t, h.call("2204", protocol.UploadFeesInput{Feedetail: protocol.OneOrMany[protocol.FeeDetail]{
		fee(b, "2", sandbox.CatalogueCode(protocol.ClassA), "", 10_000, 5_000_000)}}), protocol.CodeNotFound)
	// A settled batch is neither deleted nor its visit cancelled.
	s := h.prepare("acct-first", classA(cny(10)))
	h.settle(s)
	refused(t, h.call("2205", protocol.FeesCancelInput{Data: protocol.FeesCancelData{MdtrtID: s.mdtrtID, ChrgBchno: s.chrgBchno, PsnNo: s.psnNo}}), protocol.CodeBadRequest)
	refused(t, h.call("2202", protocol.RegisterCancelInput{Data: protocol.RegisterCancelData{PsnNo: s.psnNo, MdtrtID: s.mdtrtID}}), protocol.CodeBadRequest)
}

func TestACancelAnswersAsTheSpecificationWritesIt(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(10)))
	out := h.settle(b)
	resp := h.call("2208", protocol.CancelInput{Data: protocol.CancelData{SetlID: out.Setlinfo.SetlID, MdtrtID: b.mdtrtID, PsnNo: b.psnNo}})
	var raw struct {
		Setlinfo map[string]json.RawMessage `json:"setlinfo"`
	}
	if err := json.Unmarshal(resp.Output, &raw); err != nil {
		t.Fatal(err)
	}
	if _, spelled := raw.Setlinfo["psn_cash_pay"]; spelled || raw.Setlinfo["pdn_cash_pay"] == nil || string(raw.Setlinfo["psn_part_amt"]) != "null" {
		t.Fatalf("2208 setlinfo %s", resp.Output)
	}
	c := output[protocol.CancelOutput](t, resp)
	if c.Setlinfo.SetlID == out.Setlinfo.SetlID || c.Setlinfo.MedfeeSumamt != -out.Setlinfo.MedfeeSumamt || !c.Setlinfo.Balanced() {
		t.Fatalf("2208 %+v", c.Setlinfo)
	}
}

func TestTotalsWithRefundsCountTheCancellation(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(10)))
	out := h.settle(b)
	ok[protocol.CancelOutput](h, "2208", protocol.CancelInput{Data: protocol.CancelData{SetlID: out.Setlinfo.SetlID, MdtrtID: b.mdtrtID, PsnNo: b.psnNo}})
	q := func(refd string, count int64, total money.Fen) protocol.ReconcileInput {
		return protocol.ReconcileInput{Data: protocol.ReconcileData{Insutype: "310", ClrType: "11", SetlOptins: "441900",
			StmtBegndate: "2026-11-23", StmtEnddate: "2026-11-23", MedfeeSumamt: protocol.Amount(total),
			FundPaySumamt: 0, AcctPay: protocol.Amount(total), FixmedinsSetlCnt: count, RefdSetlFlag: refd}}
	}
	if r := ok[protocol.ReconcileOutput](h, "3201", q("1", 2, 0)); r.Stmtinfo.StmtRslt != protocol.StmtBalanced || r.Stmtinfo.SetlOptins != "441900" {
		t.Fatalf("with refunds: the settlement and its cancellation: %+v", r.Stmtinfo)
	}
	if r := ok[protocol.ReconcileOutput](h, "3201", q("0", 0, 0)); r.Stmtinfo.StmtRslt != protocol.StmtBalanced {
		t.Fatalf("without refunds: nothing counts: %+v", r.Stmtinfo)
	}
	if r := ok[protocol.ReconcileOutput](h, "3201", q("1", 2, cny(10))); r.Stmtinfo.StmtRslt != protocol.StmtMismatch {
		t.Fatalf("the same count, another total: %+v", r.Stmtinfo)
	}
}

func TestFilesAreTheInstitutionsAndExpire(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	data, _ := protocol.WriteStmtRows("x.txt", nil)
	up := ok[protocol.FileUploadOutput](h, "9101", protocol.FileUploadInput{FsUploadIn: protocol.UploadedFile{In: data, Filename: "x.zip", FixmedinsCode: inst}})
	dl := func() (int, []byte) {
		r := h.request(h.envelope("9102", h.nextMsgid(), protocol.FileDownloadInput{FsDownloadIn: protocol.FileQuery{FileQuryNo: up.FileQuryNo, Filename: "plc"}}), nil)
		res, err := h.srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		if ct := res.Header.Get("Content-Type"); ct != protocol.FileContentType {
			var resp protocol.Response
			_ = json.Unmarshal(buf.Bytes(), &resp)
			return -1, []byte(resp.ErrCode)
		}
		return res.StatusCode, buf.Bytes()
	}
	if status, file := dl(); status != http.StatusOK || !bytes.Equal(file, data) {
		t.Fatalf("9102: %d %q", status, file)
	}
	h.clock.Advance(25 * time.Hour)
	h.signIn()
	if status, code := dl(); status != -1 || string(code) != protocol.CodeBadRequest {
		t.Fatalf("an expired file: %d %s", status, code)
	}
	// Another institution's upload is not this one's.
	refused(t, h.call("9101", protocol.FileUploadInput{FsUploadIn: protocol.UploadedFile{In: data, Filename: "x.zip", FixmedinsCode: inst2}}), protocol.CodeBadRequest)
	refused(t, h.call("9102", protocol.FileDownloadInput{FsDownloadIn: protocol.FileQuery{FileQuryNo: "F-NONE"}}), protocol.CodeNotFound)
}

func ecQuery(t *testing.T, h *harness, code string) sandbox.ECAnswer {
	t.Helper()
	body, _ := json.Marshal(sandbox.ECRequest{OrgID: inst, TransType: "ec.query", Data: sandbox.ECData{OrgID: inst, BusinessType: "01301",
		OperatorID: "K01", OperatorName: "自助机01", OfficeName: "自助终端", DeviceType: "SelfService", EcQrCode: code}})
	res, err := h.srv.Client().Post(h.srv.URL+sandbox.ECQueryPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var a sandbox.ECAnswer
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTheEVoucherComponentResolvesACodeOnceIntoAToken(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	code := h.code("opaque-only").Text
	a := ecQuery(t, h, code)
	if a.Code != 0 || a.Data == nil || !strings.HasPrefix(a.Data.EcToken, "441900ec") || len(a.Data.EcToken) != 38 {
		t.Fatalf("ec.query: %+v", a)
	}
	if again := ecQuery(t, h, code); again.Code == 0 {
		t.Fatalf("a code resolved twice: %+v", again)
	}
	if signed := ecQuery(t, h, h.code("acct-first").Text); signed.Code == 0 {
		t.Fatal("the national component resolved one of our signed codes")
	}
	q := protocol.PersonInfoInput{Data: protocol.PersonQuery{MdtrtCertType: protocol.CertQR, MdtrtCertNo: a.Data.EcToken}}
	identified(t, h, h.call("1101", q), "opaque-only")
	identified(t, h, h.call("1101", q), "opaque-only") // a token serves the visit, not one request
	h.clock.Advance(2*time.Hour + time.Second)
	h.signIn()
	refused(t, h.call("1101", q), protocol.CodeCredentialExpired)
}
