package paychannel

import (
	"crypto/ecdsa"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

const merID = "898440148160001"

type rig struct {
	t        *testing.T
	ch       *Channel
	srv      *httptest.Server
	path     string
	merchant *sm2.PrivateKey
	channel  *sm2.PrivateKey
	clk      *clock.Fake
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, merchant: key(t), channel: key(t), path: filepath.Join(t.TempDir(), "pay.db"),
		clk: clock.NewFake(time.Date(2026, 3, 10, 10, 0, 0, 0, acp.CST))}
	r.open(false)
	return r
}

func (r *rig) open(reset bool) {
	ch, err := Open(r.path, Options{Key: r.channel, Merchants: map[string]*ecdsa.PublicKey{merID: &r.merchant.PublicKey}, Clock: r.clk, Reset: reset})
	if err != nil {
		r.t.Fatal(err)
	}
	r.ch = ch
	r.srv = httptest.NewServer(ch.Handler())
	r.t.Cleanup(func() { r.srv.Close(); ch.Close() })
}

func key(t *testing.T) *sm2.PrivateKey {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// post sends f to path, signed by signer (nil: unsigned), and returns the
// channel's answer, which must verify with the channel's key.
func (r *rig) post(path string, f acp.Fields, signer *sm2.PrivateKey) acp.Fields {
	r.t.Helper()
	if signer != nil {
		if err := acp.Sign(signer, f); err != nil {
			r.t.Fatal(err)
		}
	}
	resp, err := http.Post(r.srv.URL+BasePath+path, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	ans, err := acp.Decode(string(body))
	if err != nil {
		r.t.Fatalf("answer %q: %v", body, err)
	}
	if err := acp.Verify([]*ecdsa.PublicKey{&r.channel.PublicKey}, ans); err != nil {
		r.t.Fatalf("the channel's answer does not verify: %v", err)
	}
	return ans
}

func (r *rig) consume(orderID string, amount string, extra ...string) acp.Fields {
	tok, _ := acp.Bag(acp.BagTrID, "62000000001", acp.BagToken, derive("6235", "441900198209030226/0", 15))
	res, _ := acp.Bag(acp.BagAgreementID, derive("AG", "441900198209030226", 16))
	f := acp.Fields{acp.FVersion: acp.Version, acp.FEncoding: acp.Encoding, acp.FAccessType: "0", acp.FChannelType: "07",
		acp.FMerID: merID, acp.FTxnType: "01", acp.FTxnSubType: "01", acp.FBizType: "000902", acp.FCurrencyCode: "156",
		acp.FOrderID: orderID, acp.FTxnTime: "20260310095900", acp.FTxnAmt: amount, acp.FTokenPayData: tok, acp.FReserved: res}
	for i := 0; i+1 < len(extra); i += 2 {
		f[extra[i]] = extra[i+1]
	}
	return f
}

func TestTheDoorRefusesUnsignedForeignAndMalformedRequestsWithSignedAnswers(t *testing.T) {
	r := newRig(t)
	stranger := key(t)
	for name, c := range map[string]struct {
		f      acp.Fields
		signer *sm2.PrivateKey
		code   string
	}{
		"unsigned":           {r.consume("MT2026031000001", "1000"), nil, acp.CodeSignature},
		"signed by another":  {r.consume("MT2026031000002", "1000"), stranger, acp.CodeSignature},
		"unknown merchant":   {r.consume("MT2026031000003", "1000", acp.FMerID, "898440148169999"), r.merchant, acp.CodeSignature},
		"another version":    {r.consume("MT2026031000004", "1000", acp.FVersion, "5.0.0"), r.merchant, acp.CodeFormat},
		"amount in yuan":     {r.consume("MT2026031000005", "10.00"), r.merchant, acp.CodeFormat},
		"no token":           {r.consume("MT2026031000006", "1000", acp.FTokenPayData, ""), r.merchant, acp.CodeMissing},
		"another currency":   {r.consume("MT2026031000007", "1000", acp.FCurrencyCode, "840"), r.merchant, acp.CodeFormat},
		"a short order id":   {r.consume("MT1", "1000"), r.merchant, acp.CodeFormat},
		"confirmed as a yes": {r.consume("MT2026031000008", "1000", acp.FReserved, "{agreementId=X&confirmed=yes}"), r.merchant, acp.CodeFormat},
	} {
		ans := r.post(acp.PathBackTrans, c.f, c.signer)
		if ans[acp.FRespCode] != c.code {
			t.Errorf("%s: respCode %s (%s), want %s", name, ans[acp.FRespCode], ans[acp.FRespMsg], c.code)
		}
	}
	l, _ := r.ch.Ledger()
	if len(l.Orders) != 0 {
		t.Fatalf("refused at the door, yet %d orders kept", len(l.Orders))
	}
}

func TestUnknownFieldsPassAndTheSameOrderIsAnsweredOnce(t *testing.T) {
	r := newRig(t)
	f := r.consume("MT2026031000010", "1000", "frontUrl", "https://example.invalid/", "riskRateInfo", "{commodityName=x}")
	first := r.post(acp.PathBackTrans, f.Clone(), r.merchant)
	if first[acp.FRespCode] != "00" || first[acp.FQueryID] == "" || first[acp.FOrderID] != "MT2026031000010" {
		t.Fatalf("first %v", first)
	}
	again := r.post(acp.PathBackTrans, f.Clone(), r.merchant)
	if again[acp.FQueryID] != first[acp.FQueryID] {
		t.Fatalf("again %v", again)
	}
	other := r.post(acp.PathBackTrans, r.consume("MT2026031000010", "1001"), r.merchant)
	if other[acp.FRespCode] != acp.CodeDuplicate {
		t.Fatalf("other content under the same orderId: %v", other)
	}
	l, _ := r.ch.Ledger()
	if len(l.Orders) != 1 || l.Orders[0].Amount != 1000 {
		t.Fatalf("ledger %+v", l.Orders)
	}
}

func TestAnUnknownAnswerHidesAnOutcomeAQueryTells(t *testing.T) {
	r := newRig(t)
	r.ch.AnswerUnknownNext(1, acp.CodeTimeout)
	ans := r.post(acp.PathBackTrans, r.consume("MT2026031000020", "1000"), r.merchant)
	if ans[acp.FRespCode] != acp.CodeTimeout || ans[acp.FQueryID] != "" {
		t.Fatalf("answer %v", ans)
	}
	q := acp.Fields{acp.FVersion: acp.Version, acp.FEncoding: acp.Encoding, acp.FAccessType: "0", acp.FMerID: merID,
		acp.FTxnType: "00", acp.FTxnSubType: "00", acp.FBizType: "000000", acp.FOrderID: "MT2026031000020", acp.FTxnTime: "20260310095900"}
	qa := r.post(acp.PathQuery, q.Clone(), r.merchant)
	if qa[acp.FRespCode] != "00" || qa[acp.FOrigRespCode] != "00" || qa[acp.FTxnAmt] != "1000" || qa[acp.FSettleDate] != "0310" {
		t.Fatalf("query %v", qa)
	}
	q[acp.FTxnTime] = "20260310095901" // the order's identity includes its time
	if qa := r.post(acp.PathQuery, q, r.merchant); qa[acp.FRespCode] != acp.CodeNoSuchTxn {
		t.Fatalf("query with another txnTime %v", qa)
	}
}

func TestStateSurvivesAReopenAndAResetSeedsAgain(t *testing.T) {
	r := newRig(t)
	r.post(acp.PathBackTrans, r.consume("MT2026031000030", "1000"), r.merchant)
	r.srv.Close()
	r.ch.Close()
	r.open(false)
	if l, _ := r.ch.Ledger(); len(l.Orders) != 1 {
		t.Fatalf("after a reopen %d orders", len(l.Orders))
	}
	r.srv.Close()
	r.ch.Close()
	r.open(true)
	l, _ := r.ch.Ledger()
	if len(l.Orders) != 0 || len(l.Sources) == 0 {
		t.Fatalf("after a reset %d orders, %d sources", len(l.Orders), len(l.Sources))
	}
	for _, s := range l.Sources {
		if strings.Count(s.Holder, "*") != 10 {
			t.Fatalf("a holder not masked in the ledger: %q", s.Holder)
		}
	}
}

func TestOnlyLoopbackHostsAreServed(t *testing.T) {
	r := newRig(t)
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+BasePath+acp.PathQuery, strings.NewReader(""))
	req.Host = "payments.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
