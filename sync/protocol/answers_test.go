package protocol_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Answers as real gateways send them. Every sample is rebuilt from the
// research notes on the national interface (invented personal data and
// amounts, the sources' shapes); each cites the source of its shape.

func parse(t *testing.T, body string) *protocol.Response {
	t.Helper()
	r, err := protocol.ParseAnswer(200, []byte(body))
	if err != nil {
		t.Fatalf("ParseAnswer: %v", err)
	}
	return r
}

var classifier = protocol.MustClassifier(protocol.DefaultPatterns())

func TestInfcodeIsANumberOrAString(t *testing.T) {
	// shape: number in real Hunan 2304 answers (hsa-his InptSettlementBOImpl.java ≈L2634);
	// string in a real Hainan answer (hsa-his InsureUnifiedPayReversalTradeBOImpl.java L442)
	for _, body := range []string{
		`{"infcode":0,"inf_refmsgid":"440300202501151030221234567890","err_msg":"","output":{"data":{"mdtrt_id":"9000012345"}}}`,
		`{"infcode":"0","warn_msg":"","cainfo":"","err_msg":"","signtype":"","inf_refmsgid":"","output":{"data":{"mdtrt_id":"9000012345"}}}`,
	} {
		r := parse(t, body)
		if !r.OK() {
			t.Fatalf("%s: not a success", body)
		}
		out, err := protocol.Register.DecodeOutput(r.Output)
		if err != nil || out.Data.MdtrtID != "9000012345" {
			t.Fatalf("%s: %+v %v", body, out, err)
		}
	}
	if _, err := protocol.ParseAnswer(200, []byte(`{"infcode":"zero"}`)); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("infcode that is no number: %v", err)
	}
}

func TestAFailureIsMinusOneWithTheReasonInErrMsgAndATraceSuffix(t *testing.T) {
	// shape: PUTIAN-LOG (a real 3103 answer, Fujian): null output, empty
	// inf_refmsgid, appname/mid extras, "(traceid@ip)" after the text
	r := parse(t, `{"infcode":-1,"warn_msg":null,"appname":"ims-svc-ext","cainfo":null,"mid":null,"signtype":null,
		"inf_refmsgid":"","refmsg_time":"20250115103022352","respond_time":"20250115103022356",
		"err_msg":"就诊凭证编号不能为空(0123456789abcdef0123456789abcdef@10.0.0.8)","output":null}`)
	if r.OK() || r.Output != nil {
		t.Fatalf("a failure read as %+v", r)
	}
	f := classifier.Failure("3103", r)
	if f.Message != "就诊凭证编号不能为空" || f.TraceID != "0123456789abcdef0123456789abcdef" || f.Host != "10.0.0.8" {
		t.Fatalf("failure %+v", f)
	}
	if f.Kind != protocol.KindRefused || !f.Processed() {
		t.Fatalf("an unknown reason is kind %q; want a processed refusal", f.Kind)
	}
}

func TestHunanInfcodeZeroWithAnErrMsgIsAFailure(t *testing.T) {
	// shape: hsa-his InsureDetailAuditServiceImpl.java L92: "湖南医保会返回
	// infcode=0的异常信息" {"infcode":"0","err_msg":"FSI-文件查询号不能为空[fileBO_156]"}
	r := parse(t, `{"infcode":"0","err_msg":"FSI-文件查询号不能为空[fileBO_156]","output":{}}`)
	if r.OK() {
		t.Fatal("infcode 0 with an err_msg read as a success")
	}
	if f := classifier.Failure("3202", r); f.Message != "FSI-文件查询号不能为空[fileBO_156]" || !f.Processed() {
		t.Fatalf("failure %+v", f)
	}
}

func TestFailuresAreClassifiedByConfigurablePatterns(t *testing.T) {
	// No public source shows real texts for these (research notes §1.2):
	// the defaults are guesses, and a province's configuration replaces
	// them.
	for msg, kind := range map[string]string{
		"签到信息已失效，请重新签到":                      protocol.KindSignIn,
		"sign_no不存在":                         protocol.KindSignIn,
		"重复结算":                               protocol.KindDuplicate,
		"该结算已撤销":                             protocol.KindDuplicate,
		"原交易不存在":                             protocol.KindNotFound,
		"人员信息不存在":                            protocol.KindNotFound,
		"系统繁忙，请稍后重试":                         protocol.KindDoor,
		"FSI-已经是最新数据":                        protocol.KindRefused, // NYB-JX FrmYBMLSCXH.cs L1118
		"something no pattern says anything": protocol.KindRefused,
	} {
		if got := classifier.Kind(-1, msg); got != kind {
			t.Errorf("%q: kind %s, want %s", msg, got, kind)
		}
	}
	c, err := protocol.NewClassifier(protocol.Patterns{SignIn: []string{`会话超时`}, NotFound: []string{`无记录`}}, map[int]string{-2: protocol.KindSignIn})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind(-1, "会话超时") != protocol.KindSignIn || c.Kind(-2, "x") != protocol.KindSignIn || c.Kind(-1, "签到失效") != protocol.KindRefused {
		t.Fatal("configured patterns not applied")
	}
	if _, err := protocol.NewClassifier(protocol.Patterns{Door: []string{`(`}}, nil); err == nil || !strings.Contains(err.Error(), "door") {
		t.Fatalf("a bad pattern: %v", err)
	}
}

func TestABodyOutsideTheEnvelopeIsNeverASuccess(t *testing.T) {
	// shape: HN-SPEC 服务网关调用说明 → 响应内容 ({"code":401,"message":…}),
	// and services answering {"code","message","success"} (COUNTERPARTIES.md)
	for body, door := range map[string]bool{
		`{"code":401,"message":"签名不一致!"}`:                 true,
		`{"code":401,"message":"签名时间戳超时!"}`:               true,
		`{"code":0,"message":"成功","success":true}`:        false,
		`{"code":"500","message":"服务异常","success":false}`: false,
	} {
		_, err := protocol.ParseAnswer(200, []byte(body))
		var g *protocol.GatewayError
		if !errors.As(err, &g) {
			t.Fatalf("%s: %v; want a gateway error", body, err)
		}
		if g.AtDoor() != door {
			t.Errorf("%s: at the door %v, want %v", body, g.AtDoor(), door)
		}
	}
	if _, err := protocol.ParseAnswer(502, []byte(`<html>Bad Gateway</html>`)); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("a proxy's page: %v", err)
	}
}

func TestASuccessMayCarryNoOutputWhereNoneIsDue(t *testing.T) {
	// shape: JX-SPEC §5.2.7.1 (2601), §5.2.3.2 (2202), §5.2.3.6 (2205):
	// no output node defined; hsa-his only checks infcode
	for _, body := range []string{`{"infcode":0,"err_msg":""}`, `{"infcode":0,"err_msg":"","output":null}`, `{"infcode":0,"err_msg":"","output":{}}`} {
		r := parse(t, body)
		if !r.OK() {
			t.Fatalf("%s: not a success", body)
		}
		for _, tx := range []protocol.Entry{protocol.Reverse.Entry(), protocol.RegisterCancel.Entry(), protocol.FeesCancel.Entry()} {
			if !tx.NoOutput {
				t.Fatalf("%s needs an output", tx.Infno)
			}
		}
		if _, err := protocol.Reverse.DecodeOutput(r.Output); err != nil {
			t.Fatalf("%s: 2601: %v", body, err)
		}
	}
	if _, err := protocol.Settle.DecodeOutput(nil); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("2207 without output: %v", err)
	}
}

func TestNullAndEmptyAmountsAreZeroOrAbsent(t *testing.T) {
	// shape: 2206 without setl_id (JX-SPEC 表87), Hainan's "" amounts
	// (hsa-his L442), 2208's psn_part_amt and hosp_part_amt unconfirmed
	// (research notes §7): null or "" is never an error
	out, err := protocol.PreSettle.DecodeOutput(json.RawMessage(`{"setlinfo":{"setl_id":null,"medfee_sumamt":"100.00",
		"fund_pay_sumamt":62,"acct_pay":"20.00","psn_cash_pay":18.0,"hosp_part_amt":null,"psn_part_amt":null,
		"acct_mulaid_pay":"","inscp_scp_amt":"","pool_prop_selfpay":0.0000,"balc":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := out.Setlinfo
	if s.SetlID != "" || s.MedfeeSumamt != 10000 || s.HospPartAmt != 0 || s.PsnPartAmt.Set || s.AcctMulaidPay != 0 || !s.Balanced() {
		t.Fatalf("setlinfo %+v", s)
	}
}

func TestTheAgeIsDecimal(t *testing.T) {
	// shape: JX-SPEC 表6 age 数值型(4,1); 38.0 in Hainan (hsa-his L442),
	// 53 in Hunan, "" or null handled by hsa-his ≈L1793
	for raw, tenths := range map[string]protocol.Age{`36.8`: 368, `38.0`: 380, `53`: 530, `"35"`: 350, `""`: 0, `null`: 0} {
		var a protocol.Age
		if err := json.Unmarshal([]byte(raw), &a); err != nil || a != tenths {
			t.Errorf("age %s = %d, %v; want %d", raw, a, err, tenths)
		}
	}
	var a protocol.Age
	if err := json.Unmarshal([]byte(`36.85`), &a); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("two decimals of an age: %v", err)
	}
}

func TestPersonInfoReadsSeveralInsurancesAsAnArrayOrAnObject(t *testing.T) {
	// shape: research notes §3 (rebuilt 1101 answer); insuinfo 多行 in the
	// table but one object in JX-SPEC 附录B.2 and SZ-MODEL RY1101.cs L31
	arr, err := protocol.PersonInfo.DecodeOutput(json.RawMessage(`{
		"baseinfo":{"psn_no":"44030000000000000001","psn_cert_type":"01","certno":"110101199001010000",
			"psn_name":"测试甲","gend":"1","naty":"01","brdy":"1990-01-01","age":35.0},
		"insuinfo":[{"balc":0,"insutype":"390","psn_type":"14","psn_insu_stas":"4","insuplc_admdvs":"440300"},
			{"balc":1234.56,"insutype":"310","psn_type":"11","psn_insu_stas":"1","psn_insu_date":"2015-07-01",
			"paus_insu_date":"","cvlserv_flag":"0","insuplc_admdvs":"440300","emp_name":"示例单位"}],
		"idetinfo":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(arr.Insuinfo) != 2 || arr.Insuinfo[0].PsnInsuStas != protocol.InsuSuspended || arr.Insuinfo[1].Balc != 123456 || arr.Baseinfo.Age != 350 {
		t.Fatalf("1101 %+v", arr)
	}
	one, err := protocol.PersonInfo.DecodeOutput(json.RawMessage(`{"baseinfo":{"psn_no":"P1","age":18},
		"insuinfo":{"balc":5000,"insutype":"310","psn_insu_stas":"1","insu_admdvs":"440300"},"idetinfo":{"psn_idet_type":"1"}}`))
	if err != nil || len(one.Insuinfo) != 1 || one.Insuinfo[0].Balc != 500000 || len(one.Idetinfo) != 1 {
		t.Fatalf("1101 with single objects: %+v %v", one, err)
	}
}

func TestRegistrationSendsCatyAndReadsEitherExpContent(t *testing.T) {
	// shape: JX-SPEC §5.2.3.1 表76 (caty required), 表77 expContent; the
	// python mock's exp_content (research notes §4)
	raw, _ := protocol.Register.EncodeInput(protocol.RegisterInput{Data: protocol.RegisterData{PsnNo: "P1", Caty: "A03", DeptCode: "A03"}})
	if !strings.Contains(string(raw), `"caty":"A03"`) {
		t.Fatalf("2201 input %s", raw)
	}
	for _, out := range []string{`{"data":{"mdtrt_id":"9000012345","exp_content":"x"}}`, `{"data":{"mdtrt_id":"9000012345","expContent":"x"}}`} {
		o, err := protocol.Register.DecodeOutput(json.RawMessage(out))
		if err != nil || o.Data.MdtrtID != "9000012345" || o.Data.ExpContent != "x" {
			t.Fatalf("%s: %+v %v", out, o, err)
		}
	}
}

func TestFeeLinesTravelWithFourDecimalsOfCountAndSixOfPrice(t *testing.T) {
	// shape: JX-SPEC §5.2.3.5 表83 (cnt 16,4, pric 16,6 and the required
	// fields), 表84 (result with chrgitm_lv, selfpay_prop 5,4)
	raw, _ := protocol.UploadFees.EncodeInput(protocol.UploadFeesInput{Feedetail: protocol.OneOrMany[protocol.FeeDetail]{{
		FeedetlSn: "F0001", Cnt: 5000, Pric: 12_500_000, DetItemFeeSumamt: 625, RxCircFlag: "0",
		FeeOcurTime: "2025-01-15 08:20:00", BilgDeptCodg: "A03", BilgDeptName: "内科", BilgDrCodg: "D1", BilgDrName: "测试医生", HospApprFlag: "1",
	}}})
	for _, want := range []string{`"cnt":0.5000`, `"pric":12.500000`, `"det_item_fee_sumamt":6.25`, `"rx_circ_flag":"0"`, `"bilg_dr_name":"测试医生"`, `"hosp_appr_flag":"1"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("2204 input lacks %s: %s", want, raw)
		}
	}
	if strings.Contains(string(raw), "chrgitm_lv") {
		t.Errorf("2204 input carries a class: the catalogue decides it: %s", raw)
	}
	out, err := protocol.UploadFees.DecodeOutput(json.RawMessage(`{"result":[
		{"feedetl_sn":"F0001","det_item_fee_sumamt":25.00,"cnt":2.0000,"pric":12.500000,"pric_uplmt_amt":15.000000,
		"selfpay_prop":0.1000,"fulamt_ownpay_amt":0.00,"overlmt_amt":0.00,"preselfpay_amt":2.50,"inscp_scp_amt":22.50,
		"chrgitm_lv":"02","med_chrgitm_type":"09","bas_medn_flag":"0","hi_nego_drug_flag":"0","chld_medc_flag":"0",
		"list_sp_item_flag":"0","lmt_used_flag":"0","drt_reim_flag":"0","memo":""}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := out.Result[0]
	if r.ChrgitmLv != "02" || r.SelfpayProp != 1000 || r.Cnt != 20_000 || r.Pric != 12_500_000 || r.PricUplmtAmt != 15_000_000 || r.PreselfpayAmt != 250 {
		t.Fatalf("2204 result %+v", r)
	}
}

func TestASettlementReadsItsFortyFieldsAndBalancesWithTheHospitalsPart(t *testing.T) {
	// shape: research notes §6 (rebuilt 2207 answer after JX-SPEC 表87);
	// the identity of COUNTERPARTIES.md with hosp_part_amt
	body := `{"setlinfo":{"mdtrt_id":"9000012345","setl_id":"8000054321","psn_no":"44030000000000000001",
		"psn_name":"测试甲","psn_cert_type":"01","certno":"110101199001010000","gend":"1","naty":"01",
		"brdy":"1990-01-01","age":35.0,"insutype":"310","psn_type":"11","cvlserv_flag":"0",
		"setl_time":"2025-01-15 08:30:00","mdtrt_cert_type":"02","med_type":"11","medfee_sumamt":100.00,
		"fulamt_ownpay_amt":5.00,"overlmt_selfpay":0.00,"preselfpay_amt":3.00,"inscp_scp_amt":92.00,
		"act_pay_dedc":0.00,"hifp_pay":60.00,"pool_prop_selfpay":0.3261,"cvlserv_pay":0.00,"hifes_pay":0.00,
		"hifmi_pay":0.00,"hifob_pay":0.00,"maf_pay":2.00,"oth_pay":0.00,"fund_pay_sumamt":62.00,
		"psn_part_amt":36.00,"acct_pay":20.00,"psn_cash_pay":16.00,"hosp_part_amt":2.00,"balc":1214.56,
		"acct_mulaid_pay":0.00,"medins_setl_id":"H44030000001202501150830000001","clr_optins":"440300",
		"clr_way":"01","clr_type":"11","hifdm_pay":0.00},
		"setldetail":[{"fund_pay_type":"310100","inscp_scp_amt":92.00,"crt_payb_lmt_amt":0.00,"fund_payamt":60.00,
		"fund_pay_type_name":"职工基本医疗保险统筹基金","setl_proc_info":""}]}`
	out, err := protocol.Settle.DecodeOutput(json.RawMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	s := out.Setlinfo
	if !s.Balanced() || s.HospPartAmt != 200 || s.PoolPropSelfpay != 3261 || s.Age != 350 || s.ClrType != "11" || len(out.Setldetail) != 1 {
		t.Fatalf("2207 %+v (%s)", s, s.Imbalance())
	}
	// Without the hospital's part it would not balance, and a wrong
	// psn_part_amt does not either.
	s.HospPartAmt = 0
	if s.Balanced() {
		t.Fatal("balanced without hosp_part_amt")
	}
	s.HospPartAmt, s.PsnPartAmt = 200, protocol.Opt(3700)
	if s.Balanced() || !strings.Contains(s.Imbalance(), "psn_part_amt") {
		t.Fatalf("psn_part_amt 37.00 ≠ 20.00 + 16.00 passed: %q", s.Imbalance())
	}
}

func TestSetldetailIsKeptButNotSummed(t *testing.T) {
	// shape: a real Hunan setldetail with "" in every amount
	// (hsa-his InptSettlementBOImpl.java ≈L2680); research notes §6.4
	out, err := protocol.Settle.DecodeOutput(json.RawMessage(`{"setlinfo":{"setl_id":"8","medfee_sumamt":5792.53,
		"fund_pay_sumamt":3106.54,"hifp_pay":3106.54,"acct_pay":0,"psn_cash_pay":2685.99,"psn_part_amt":2685.99,"hosp_part_amt":0},
		"setldetail":{"fund_pay_type":"","inscp_scp_amt":4973.72,"crt_payb_lmt_amt":"","fund_payamt":"","fund_pay_type_name":"","setl_proc_info":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Setlinfo.Balanced() || len(out.Setldetail) != 1 || out.Setldetail[0].FundPayamt != 0 {
		t.Fatalf("%+v", out)
	}
	// fund_pay_type typed as a number by a client (SZ-MODEL) reads as text.
	var d protocol.SetlDetail
	if err := json.Unmarshal([]byte(`{"fund_pay_type":310100,"fund_payamt":"1.00"}`), &d); err != nil || d.FundPayType != "310100" {
		t.Fatalf("numeric fund_pay_type: %+v %v", d, err)
	}
}

func TestACancelReadsTheMisspelledCashPart(t *testing.T) {
	// shape: JX-SPEC 表99 (pdn_cash_pay, last), copied by SZ-MODEL
	// ZJCX2208.cs L49; amounts negative (an assumption: research notes §7)
	out, err := protocol.CancelSettle.DecodeOutput(json.RawMessage(`{"setlinfo":{"mdtrt_id":"9000012345","setl_id":"8000054399",
		"clr_optins":"440300","setl_time":"2025-01-15 09:10:00","medfee_sumamt":-100.00,"fulamt_ownpay_amt":-5.00,
		"overlmt_selfpay":0.00,"preselfpay_amt":-3.00,"inscp_scp_amt":-92.00,"act_pay_dedc":0.00,"hifp_pay":-62.00,
		"pool_prop_selfpay":0.3261,"fund_pay_sumamt":-62.00,"psn_part_amt":-38.00,"acct_pay":-20.00,"balc":1234.56,
		"acct_mulaid_pay":0.00,"hosp_part_amt":"","medins_setl_id":"H44030000001202501150910000001","pdn_cash_pay":-18.00},
		"setldetail":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Setlinfo; s.PsnCashPay != -1800 || !s.Balanced() || s.SetlID != "8000054399" {
		t.Fatalf("2208 %+v (%s)", s, s.Imbalance())
	}
}

func TestTotalsReconciliationAnswersStmtinfo(t *testing.T) {
	// shape: JX-SPEC §5.3.2.1 表162 (stmtinfo); NYB-JX reads
	// j["stmtinfo"]["stmt_rslt"] (yb_interface_jx.cs L15045)
	out, err := protocol.ReconcileTotals.DecodeOutput(json.RawMessage(`{"stmtinfo":{"setl_optins":"440300","stmt_rslt":"1","stmt_rslt_dscr":"中心多1笔"}}`))
	if err != nil || out.Stmtinfo.StmtRslt != protocol.StmtPlatformMore || out.Stmtinfo.StmtRsltDscr != "中心多1笔" {
		t.Fatalf("3201 %+v %v", out, err)
	}
	raw, _ := protocol.ReconcileTotals.EncodeInput(protocol.ReconcileInput{Data: protocol.ReconcileData{SetlOptins: "440300", RefdSetlFlag: "1"}})
	if !strings.Contains(string(raw), `"setl_optins":"440300"`) || !strings.Contains(string(raw), `"refd_setl_flag":"1"`) {
		t.Fatalf("3201 input %s", raw)
	}
}

func TestFileTransactionsCarryTheirNodes(t *testing.T) {
	// shape: JX-SPEC §5.7.2.1 (fsUploadIn; output fields directly in
	// output, dld_endtime) and §5.7.2.2 (fsDownloadIn); 3202's fileinfo
	// (表164)
	raw, _ := protocol.UploadFile.EncodeInput(protocol.FileUploadInput{FsUploadIn: protocol.UploadedFile{In: []byte("PK"), Filename: "a.zip", FixmedinsCode: "H44030000001"}})
	if !strings.Contains(string(raw), `{"fsUploadIn":{"in":"UEs=","filename":"a.zip"`) {
		t.Fatalf("9101 input %s", raw)
	}
	up, err := protocol.UploadFile.DecodeOutput(json.RawMessage(`{"file_qury_no":"F440300202501150001","filename":"stmt_20250115.zip",
		"fixmedins_code":"H44030000001","dld_endtime":"2025-01-16 23:59:59"}`))
	if err != nil || up.FileQuryNo != "F440300202501150001" {
		t.Fatalf("9101 %+v %v", up, err)
	}
	cmp, err := protocol.ReconcileDetail.DecodeOutput(json.RawMessage(`{"fileinfo":{"file_qury_no":"F440300202501150002",
		"filename":"result_20250115.zip","dld_endtime":"2025-01-16 23:59:59"}}`))
	if err != nil || cmp.Fileinfo.FileQuryNo != "F440300202501150002" {
		t.Fatalf("3202 %+v %v", cmp, err)
	}
	if !protocol.DownloadFile.File {
		t.Fatal("9102's success is a file")
	}
}
