package protocol_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// samples holds one realistic input and output per transaction: the codec
// test walks protocol.Table, so a transaction added without a sample fails.
var samples = map[string]struct{ in, out any }{
	"9001": {protocol.SignInInput{SignIn: protocol.SignInData{OpterNo: "DESK01", IP: "127.0.0.1"}},
		protocol.SignInOutput{Signinoutb: protocol.SignInResult{SignNo: "S1", SignTime: "2026-11-23 09:00:00"}}},
	"1101": {protocol.PersonInfoInput{Data: protocol.PersonQuery{MdtrtCertType: "02", MdtrtCertNo: "11010519491231002X"}},
		protocol.PersonInfoOutput{Baseinfo: protocol.BaseInfo{PsnNo: "P1", Age: 368}, Insuinfo: protocol.OneOrMany[protocol.InsuInfo]{{Insutype: "310", Balc: 123456}}, Idetinfo: protocol.OneOrMany[protocol.IdetInfo]{},
			Payinfo: protocol.PayInfo{Agreement: true, LimitPerTxn: 30000, LimitDaily: 100000, FamilyOf: &protocol.FamilyLink{SignerPsnNo: "P2", Relation: "child", Mode: protocol.FamilyFrictionless}}}},
	"2201": {protocol.RegisterInput{Data: protocol.RegisterData{PsnNo: "P1", Insutype: "310", Caty: "A03"}}, protocol.RegisterOutput{Data: protocol.RegisterResult{MdtrtID: "M1"}}},
	"2202": {protocol.RegisterCancelInput{Data: protocol.RegisterCancelData{PsnNo: "P1", MdtrtID: "M1"}}, protocol.NoOutput{}},
	"2204": {protocol.UploadFeesInput{Feedetail: protocol.OneOrMany[protocol.FeeDetail]{{FeedetlSn: "1", DetItemFeeSumamt: 2500, Cnt: 5000, Pric: 50_000_000, RxCircFlag: "0", HospApprFlag: "1"}}},
		protocol.UploadFeesOutput{Result: protocol.OneOrMany[protocol.FeeResult]{{FeedetlSn: "1", DetItemFeeSumamt: 2500, InscpScpAmt: 2500, SelfpayProp: 1000, ChrgitmLv: "02"}}}},
	"2205": {protocol.FeesCancelInput{Data: protocol.FeesCancelData{MdtrtID: "M1", ChrgBchno: protocol.AllBatches}}, protocol.NoOutput{}},
	"2206": {protocol.PreSettleInput{Data: protocol.SettleQuery{MedfeeSumamt: 3379}},
		protocol.PreSettleOutput{Setlinfo: protocol.SetlInfo{MedfeeSumamt: 3379, FundPaySumamt: 2728, PsnCashPay: 651, PsnPartAmt: protocol.Opt(651)},
			Setldetail: protocol.OneOrMany[protocol.SetlDetail]{{FundPayType: "310100", FundPayamt: 2728}}, Payplan: protocol.PayResult{Status: "paid"}}},
	"2207": {protocol.SettleInput{Data: protocol.SettleData{SettleQuery: protocol.SettleQuery{MedfeeSumamt: 3379, AcctUsedFlag: "1"}, InscpScpAmt: 3379, OverlmtSelfpay: 0}},
		protocol.SettleOutput{Setlinfo: protocol.SetlInfo{SetlID: "X", MedfeeSumamt: 3379, FundPaySumamt: 2728, AcctPay: 651, HospPartAmt: 0},
			Setldetail: protocol.OneOrMany[protocol.SetlDetail]{}, Payresult: protocol.PayResult{Status: "paid", Source: "personal_account"}}},
	"2208": {protocol.CancelInput{Data: protocol.CancelData{SetlID: "X"}},
		protocol.CancelOutput{Setlinfo: protocol.SetlInfo{MedfeeSumamt: -3379, FundPaySumamt: -2728, AcctPay: -651}, Setldetail: protocol.OneOrMany[protocol.SetlDetail]{}}},
	"2601": {protocol.ReverseInput{Data: protocol.ReverseData{Omsgid: "m", Oinfno: "2207"}}, protocol.NoOutput{}},
	"3202": {protocol.ReconcileDetailInput{Data: protocol.ReconcileDetailQuery{SetlOptins: "441900", FileQuryNo: "F1", StmtBegndate: "2026-11-23", CashPayamt: 651, FixmedinsSetlCnt: 1, RefdSetlFlag: "1"}},
		protocol.ReconcileDetailOutput{Fileinfo: protocol.FileInfo{FileQuryNo: "F2", Filename: "r.zip", DldEndtime: "2026-11-24 10:00:00"}}},
	"9101": {protocol.FileUploadInput{FsUploadIn: protocol.UploadedFile{In: []byte("PK\x03\x04"), Filename: "d.zip", FixmedinsCode: "H44190000001"}},
		protocol.FileUploadOutput{FileQuryNo: "F1", Filename: "d.zip", FixmedinsCode: "H44190000001", DldEndtime: "2026-11-24 10:00:00"}},
	"9102": {protocol.FileDownloadInput{FsDownloadIn: protocol.FileQuery{FileQuryNo: "F2", Filename: "r.zip", FixmedinsCode: "H44190000001"}}, protocol.NoOutput{}},
	"E002": {protocol.PolicyInput{}, protocol.PolicyOutput{Data: protocol.Policy{Version: "1", Insurance: []protocol.InsurancePolicy{{Insutype: "310", Deductible: 50000, RatioPct: 70, YearCap: 800000}}, LimitPerTxn: 30000}}},
	"E001": {protocol.TrustListInput{Data: protocol.TrustListQuery{SinceVersion: 6}},
		protocol.TrustListOutput{Version: 7, Revoked: []string{"00000000000004d2"}, Keys: []protocol.TrustKey{{
			KeyID: 1, Alg: "ed25519", PublicKey: "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
			NotBefore: time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 6, 30, 16, 0, 0, 0, time.UTC)}}}},
	"3201": {protocol.ReconcileInput{Data: protocol.ReconcileData{MedfeeSumamt: 100, FixmedinsSetlCnt: 1, SetlOptins: "441900", RefdSetlFlag: "0"}},
		protocol.ReconcileOutput{Stmtinfo: protocol.StmtInfo{SetlOptins: "441900", StmtRslt: "0"}}},
}

func TestEveryTransactionRoundTripsThroughTheCodec(t *testing.T) {
	for _, infno := range protocol.Infnos() {
		t.Run(infno, func(t *testing.T) {
			s, ok := samples[infno]
			if !ok {
				t.Fatalf("no sample for transaction %s", infno)
			}
			e := protocol.Table[infno]
			raw, err := json.Marshal(s.in)
			if err != nil {
				t.Fatal(err)
			}
			in, err := protocol.DecodeInput(infno, raw)
			if err != nil {
				t.Fatalf("decode input: %v", err)
			}
			if got := reflect.ValueOf(in).Elem().Interface(); !reflect.DeepEqual(got, s.in) {
				t.Fatalf("input round trip:\n got %+v\nwant %+v", got, s.in)
			}
			rawOut, _ := json.Marshal(s.out)
			out := e.NewOutput()
			if err := json.Unmarshal(rawOut, out); err != nil {
				t.Fatalf("decode output: %v", err)
			}
			if got := reflect.ValueOf(out).Elem().Interface(); !reflect.DeepEqual(got, s.out) {
				t.Fatalf("output round trip:\n got %+v\nwant %+v", got, s.out)
			}
		})
	}
}

func TestAmountsOnTheWireAreExactDecimals(t *testing.T) {
	out, err := protocol.Settle.DecodeOutput(json.RawMessage(`{"setlinfo":{"setl_id":"X","medfee_sumamt":33.79,"fund_pay_sumamt":27.28,"acct_pay":0,"psn_cash_pay":6.51,"balc":0.1,"hifp_pay":27.28,"fulamt_ownpay_amt":0,"preselfpay_amt":0,"inscp_scp_amt":33.79},"payresult":{"status":"paid"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if out.Setlinfo.MedfeeSumamt.Fen() != 3379 || out.Setlinfo.Balc.Fen() != 10 || !out.Setlinfo.Balanced() {
		t.Fatalf("decoded %+v", out.Setlinfo)
	}
	b, _ := json.Marshal(out.Setlinfo)
	if !strings.Contains(string(b), `"medfee_sumamt":33.79`) || !strings.Contains(string(b), `"balc":0.10`) {
		t.Fatalf("encoded %s", b)
	}
}

func TestBadAmountsInAnAnswerAreRejected(t *testing.T) {
	cases := map[string]string{
		"three significant decimals":  `33.791`,
		"exponent":                    `3.379e1`,
		"huge":                        `10000000.01`,
		"a string that is no number":  `"33,79"`,
		"boolean":                     `true`,
		"an object":                   `{}`,
		"a plus sign":                 `"+1.00"`,
		"a numeric string, too exact": `"0.001"`,
	}
	for name, amount := range cases {
		t.Run(name, func(t *testing.T) {
			raw := `{"setlinfo":{"medfee_sumamt":` + amount + `},"payresult":{"status":"paid"}}`
			_, err := protocol.Settle.DecodeOutput(json.RawMessage(raw))
			if err == nil || !errors.Is(err, protocol.ErrMalformed) {
				t.Fatalf("decoded %s without a malformed-message error: %v", amount, err)
			}
		})
	}
	// Negative amounts are meaningful on the wire (a cancel answers with
	// them); where they are not, the workflow refuses an unbalanced split.
	if _, err := protocol.CancelSettle.DecodeOutput(json.RawMessage(`{"setlinfo":{"medfee_sumamt":-1.5}}`)); err != nil {
		t.Fatalf("negative cancel amount: %v", err)
	}
}

func TestRequestInputsAreReadLenientlyAndExactly(t *testing.T) {
	// Real platforms ignore fields they do not know: a client may send
	// what another province requires.
	in, err := protocol.DecodeInput("2207", json.RawMessage(`{"data":{"psn_no":"P1","medfee_sumamt":1,"surprise":1,"overlmt_selfpay":"0.00"}}`))
	if err != nil {
		t.Fatalf("unknown field: %v", err)
	}
	if d := in.(*protocol.SettleInput).Data; d.PsnNo != "P1" || d.MedfeeSumamt != 100 {
		t.Fatalf("decoded %+v", d)
	}
	// What is used is read exactly.
	if _, err := protocol.DecodeInput("2204", json.RawMessage(`{"feedetail":[{"cnt":0.00001}]}`)); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("a fifth decimal of cnt: %v", err)
	}
	if _, err := protocol.DecodeInput("9999", json.RawMessage(`{}`)); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("unknown transaction: %v", err)
	}
}

func TestMsgidsAreUniqueMonotonicAndCarryTheSlot(t *testing.T) {
	var c protocol.MsgidClock
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, protocol.CST)
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 250; i++ { // a burst of 250 in one second takes three seconds
		var id string
		id, c = c.Next("H44190000001", 7, t0)
		if err := protocol.ValidMsgid(id); err != nil {
			t.Fatal(err)
		}
		if seen[id] || id <= prev {
			t.Fatalf("msgid %s repeated or out of order after %s", id, prev)
		}
		if after, ok := protocol.MsgidAfter(prev); prev != "" && (!ok || after != id) {
			t.Fatalf("MsgidAfter(%s) = %s, %v; the clock gave %s", prev, after, ok, id)
		}
		if id[26:28] != "07" {
			t.Fatalf("slot digits of %s", id)
		}
		seen[id], prev = true, id
	}
	if prev[12:26] != "20261123090002" {
		t.Fatalf("250th msgid %s; want the time part two seconds on", prev)
	}
	// At the end of a day the next second is the next day's first.
	if after, ok := protocol.MsgidAfter("H44190000001202612312359590799"); !ok || after != "H44190000001202701010000000700" {
		t.Errorf("MsgidAfter at midnight: %s, %v", after, ok)
	}
	if _, ok := protocol.MsgidAfter("H4419000000120261231235959079"); ok {
		t.Error("MsgidAfter took a msgid one character short")
	}
	// The clock set back never yields an earlier msgid.
	id, _ := c.Next("H44190000001", 7, t0.Add(-time.Hour))
	if id <= prev {
		t.Fatalf("after the clock went back: %s <= %s", id, prev)
	}
}
