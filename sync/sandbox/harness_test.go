package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// The test institutions and their secrets.
const (
	inst  = "H44190000001"
	inst2 = "H44010000002"
	devNo = "DESK01"
)

var secrets = map[string][]byte{
	inst:  []byte("0123456789abcdef-dongguan"),
	inst2: []byte("0123456789abcdef-guangzhou"),
}

// start is a Monday morning in CST; persona ages and card expiries are
// stated for it.
var start = time.Date(2026, 11, 23, 10, 0, 0, 0, protocol.CST)

// harness is one sandbox served over loopback HTTP, and a terminal of the
// first institution talking to it with real signing.
type harness struct {
	t      *testing.T
	path   string
	clock  *clock.Fake
	p      *sandbox.Platform
	srv    *httptest.Server
	data   *personas.Dataset
	inst   string
	dev    string // dev_no of the terminal sending
	signNo string
	msgids protocol.MsgidClock
	// options, when set, adds to the options of every open.
	options func(o *sandbox.Options)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessWith(t, data)
}

// newHarnessWith seeds a fresh state file from data, opened with options
// added by each of more.
func newHarnessWith(t *testing.T, data *personas.Dataset, more ...func(o *sandbox.Options)) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "sandbox.db"), clock: clock.NewFake(start), data: data, inst: inst, dev: devNo}
	h.options = func(o *sandbox.Options) {
		for _, f := range more {
			f(o)
		}
	}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	opts := sandbox.Options{Clock: h.clock, Personas: h.data, Secrets: secrets}
	if h.options != nil {
		h.options(&opts)
	}
	p, err := sandbox.Open(h.path, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.p = p
	h.srv = httptest.NewServer(p.Handler())
	h.t.Cleanup(h.close)
}

func (h *harness) close() {
	if h.srv != nil {
		h.srv.Close()
		h.srv = nil
	}
	if h.p != nil {
		if err := h.p.Close(); err != nil {
			h.t.Error(err)
		}
		h.p = nil
	}
}

// reopen closes the platform and opens the same state file again.
func (h *harness) reopen() {
	h.t.Helper()
	h.close()
	h.open()
}

func (h *harness) nextMsgid() string {
	var m string
	m, h.msgids = h.msgids.Next(h.inst, 1, h.clock.Now())
	return m
}

// envelope builds a request body.
func (h *harness) envelope(infno, msgid string, input any) []byte {
	h.t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		h.t.Fatal(err)
	}
	body, err := json.Marshal(protocol.Request{
		Infno: infno, Msgid: msgid, MdtrtareaAdmvs: "441900", RecerSysCode: "MEDTERM", DevNo: h.dev,
		Signtype: "SM3", Infver: protocol.Version, OpterType: protocol.OpterClerk, Opter: "D001", OpterName: "window 1",
		InfTime: protocol.FormatInfTime(h.clock.Now()), FixmedinsCode: h.inst, FixmedinsName: "test", SignNo: h.signNo,
		Input: raw,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return body
}

// post sends a body to the gateway's URL, authenticated by tif with the
// institution's token unless sign changes the request afterwards. infno
// names the transaction for messages only: the body says it.
func (h *harness) post(infno string, body []byte, sign func(r *http.Request)) (int, protocol.Response) {
	h.t.Helper()
	return h.do(h.request(body, sign))
}

// request is a tif-authenticated POST of body to the gateway.
func (h *harness) request(body []byte, sign func(r *http.Request)) *http.Request {
	h.t.Helper()
	r, err := http.NewRequest(http.MethodPost, h.srv.URL+sandbox.CallPath, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	tif, err := transport.NewTif(h.inst, string(secrets[h.inst]), h.clock)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := tif.Authorize(h.t.Context(), r); err != nil {
		h.t.Fatal(err)
	}
	if sign != nil {
		sign(r)
	}
	return r
}

// gatewayAnswer posts a request that the gateway must refuse at the door,
// outside the envelope, and returns that refusal.
func (h *harness) gatewayAnswer(r *http.Request) (int, transport.GatewayRefusal) {
	h.t.Helper()
	res, err := h.srv.Client().Do(r)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var g transport.GatewayRefusal
	if err := json.Unmarshal(data, &g); err != nil || bytes.Contains(data, []byte(`"infcode"`)) {
		h.t.Fatalf("answer is not a gateway refusal (%d): %s", res.StatusCode, data)
	}
	return res.StatusCode, g
}

func (h *harness) do(r *http.Request) (int, protocol.Response) {
	h.t.Helper()
	res, err := h.srv.Client().Do(r)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	var resp protocol.Response
	if err := json.Unmarshal(data, &resp); err != nil {
		h.t.Fatalf("answer is not a protocol.Response (%d): %s", res.StatusCode, data)
	}
	return res.StatusCode, resp
}

// call sends one transaction under a fresh msgid and returns the answer.
func (h *harness) call(infno string, input any) protocol.Response {
	h.t.Helper()
	return h.callAs(infno, h.nextMsgid(), input)
}

func (h *harness) callAs(infno, msgid string, input any) protocol.Response {
	h.t.Helper()
	status, resp := h.post(infno, h.envelope(infno, msgid, input), nil)
	if status != http.StatusOK {
		h.t.Fatalf("%s: HTTP %d: %s %s", infno, status, resp.ErrCode, resp.ErrMsg)
	}
	return resp
}

// ok sends a transaction that must succeed and decodes its output.
func ok[O any](h *harness, infno string, input any) O {
	h.t.Helper()
	resp := h.call(infno, input)
	return output[O](h.t, resp)
}

func output[O any](t *testing.T, resp protocol.Response) O {
	t.Helper()
	if !resp.OK() {
		t.Fatalf("failed: %s: %s", resp.ErrCode, resp.ErrMsg)
	}
	var out O
	if len(resp.Output) == 0 {
		return out // a success without output (2601, 2202, 2205)
	}
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		t.Fatalf("output: %v: %s", err, resp.Output)
	}
	return out
}

// refused checks that resp is a failure with code.
func refused(t *testing.T, resp protocol.Response, code string) {
	t.Helper()
	if resp.Infcode != protocol.InfcodeFail || resp.ErrCode != code {
		t.Fatalf("answer %d %s (%s), want a %s failure", resp.Infcode, resp.ErrCode, resp.ErrMsg, code)
	}
}

func (h *harness) signIn() {
	h.t.Helper()
	out := ok[protocol.SignInOutput](h, "9001", protocol.SignInInput{SignIn: protocol.SignInData{OpterNo: "D001", Mac: "00:00:00:00:00:01", IP: "127.0.0.1"}})
	h.signNo = out.Signinoutb.SignNo
}

func (h *harness) person(key string) *personas.Person {
	h.t.Helper()
	p, ok := h.data.ByKey(key)
	if !ok {
		h.t.Fatalf("no persona %q", key)
	}
	return p
}

func (h *harness) ledger() sandbox.Ledger {
	h.t.Helper()
	l, err := h.p.Ledger(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

// item is one fee line of a bill: cnt × price of a class.
type item struct {
	class string
	cnt   int64
	price money.Fen
}

func classA(f money.Fen) item { return item{protocol.ClassA, 1, f} }

// bill is a registered visit with uploaded fees, ready to settle.
type bill struct {
	psnNo, insutype, mdtrtID, chrgBchno string
	fees                                protocol.UploadFeesOutput
	total                               money.Fen
}

var batchSeq int

// prepare identifies a persona by ID number, registers a visit and uploads
// the items.
func (h *harness) prepare(key string, items ...item) bill {
	h.t.Helper()
	p := h.person(key)
	info := ok[protocol.PersonInfoOutput](h, "1101", protocol.PersonInfoInput{Data: protocol.PersonQuery{MdtrtCertType: protocol.CertIDNo, MdtrtCertNo: p.Certno}})
	b := bill{psnNo: info.Baseinfo.PsnNo, insutype: info.Insuinfo[0].Insutype}
	for _, in := range info.Insuinfo {
		if in.PsnInsuStas == protocol.InsuActive {
			b.insutype = in.Insutype
			break
		}
	}
	reg := ok[protocol.RegisterOutput](h, "2201", protocol.RegisterInput{Data: protocol.RegisterData{
		PsnNo: b.psnNo, Insutype: b.insutype, Begntime: protocol.FormatInfTime(h.clock.Now()),
		MdtrtCertType: protocol.CertIDNo, MdtrtCertNo: p.Certno, IptOtpNo: "OP1", DeptCode: "A01", DeptName: "general",
	}})
	b.mdtrtID = reg.Data.MdtrtID
	batchSeq++
	b.chrgBchno = fmt.Sprintf("B%04d", batchSeq)
	var fees []protocol.FeeDetail
	for i, it := range items {
		amount := money.Fen(it.cnt) * it.price
		fees = append(fees, protocol.FeeDetail{
			FeedetlSn: fmt.Sprintf("%d", i+1), MdtrtID: b.mdtrtID, PsnNo: b.psnNo, ChrgBchno: b.chrgBchno,
			MedListCodg: "X" + it.class, MedinsListCodg: "L1", DetItemFeeSumamt: protocol.Amount(amount),
			Cnt: protocol.Cnt(money.QuantityOf(it.cnt)), Pric: protocol.Pric(money.PriceOfFen(it.price)), ChrgitmLv: it.class,
		})
		b.total += amount
	}
	b.fees = ok[protocol.UploadFeesOutput](h, "2204", protocol.UploadFeesInput{Feedetail: fees})
	return b
}

func (b bill) query() protocol.SettleQuery {
	return protocol.SettleQuery{
		PsnNo: b.psnNo, MdtrtCertType: protocol.CertIDNo, MedType: "11", MedfeeSumamt: protocol.Amount(b.total),
		PsnSetlway: "01", MdtrtID: b.mdtrtID, ChrgBchno: b.chrgBchno, Insutype: b.insutype, AcctUsedFlag: "1",
	}
}

// settleInput is the 2207 input the agent would send: the query plus the
// sums of the upload's answer.
func (b bill) settleInput() protocol.SettleInput {
	d := protocol.SettleData{SettleQuery: b.query(), Invono: "INV1"}
	var full, pre, inscp money.Fen
	for _, r := range b.fees.Result {
		full, pre, inscp = full+r.FulamtOwnpayAmt.Fen(), pre+r.PreselfpayAmt.Fen(), inscp+r.InscpScpAmt.Fen()
	}
	d.FulamtOwnpayAmt, d.PreselfpayAmt, d.InscpScpAmt = protocol.Amount(full), protocol.Amount(pre), protocol.Amount(inscp)
	return protocol.SettleInput{Data: d}
}

// settle pre-settles and settles a bill, checking that 2206 announced what
// 2207 did and that both balance.
func (h *harness) settle(b bill) protocol.SettleOutput {
	h.t.Helper()
	pre := ok[protocol.PreSettleOutput](h, "2206", protocol.PreSettleInput{Data: b.query()})
	out := ok[protocol.SettleOutput](h, "2207", b.settleInput())
	if !out.Setlinfo.Balanced() || !pre.Setlinfo.Balanced() {
		h.t.Fatalf("unbalanced split: pre %+v, settle %+v", pre.Setlinfo, out.Setlinfo)
	}
	got, want := pre.Payplan, out.Payresult
	want.AuthNo = ""
	if got != want {
		h.t.Fatalf("2206 planned %+v, 2207 did %+v", got, want)
	}
	return out
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not mention %q", s, sub)
	}
}

// timeIn is 10:00 CST on a date.
func timeIn(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 10, 0, 0, 0, protocol.CST)
}
