package unionpay

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

func TestAgreementLookupSealsThePatientAndReadsTheAgreement(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		if req[acp.FTxnType] != acp.TxnAgreementQuery || req[acp.FBizType] != acp.BizAgreement {
			t.Errorf("request %v", req)
		}
		info, err := acp.Decrypt(r.channel, req[acp.FCustomerInfo])
		if err != nil {
			t.Fatal(err)
		}
		bag, _ := acp.ParseBag(info)
		if bag[acp.BagCertifID] != "441900198007070713" || bag[acp.BagCustomerNm] != "赵强" || bag[acp.BagCertifTp] != "01" {
			t.Errorf("customerInfo %v", bag)
		}
		r.reply(w, req, acp.FRespCode, "00", acp.FAgreementID, "FL0001", acp.FAccountFirst, "1",
			acp.FPerTxnLimit, "30000", acp.FDailyLimit, "100000",
			"src1Kind", "bank_card", "src1Token", "6235000000000000007", "src1Masked", "6217 **** 1357", "src1Bank", "中国银行",
			"src2Kind", "credit_line", "src2Token", "6235000000000000008", "src2Masked", "6225880000001111", "src2Available", "800000",
			acp.FFamilyRel, "spouse", acp.FFamilyConfirm, "1", acp.FFamilySigner, "赵强")
	})
	a, err := r.client.Agreement(ctx(t), agent.AgreementQuery{IDNo: "441900198007070713", Name: "赵强"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "FL0001" || !a.AccountFirst || a.PerPayment != 30000 || a.Daily != 100000 || len(a.Sources) != 2 {
		t.Fatalf("agreement %+v", a)
	}
	if a.Sources[0].Masked != "6217 **** 1357" || a.Sources[1].Masked != "************1111" || a.Sources[1].Available != 800000 {
		t.Fatalf("sources %+v: a number shown in full must be masked", a.Sources)
	}
	if a.Family == nil || a.Family.Relation != "spouse" || !a.Family.ConfirmFirst || a.Family.Signer != "赵*" {
		t.Fatalf("family %+v", a.Family)
	}
	for _, f := range r.requests() {
		for k, v := range f {
			if k != acp.FCustomerInfo && (strings.Contains(v, "441900198007070713") || strings.Contains(v, "赵强")) {
				t.Errorf("personal data in clear in %s", k)
			}
		}
	}
}

func TestAgreementAnswers(t *testing.T) {
	for name, c := range map[string]struct {
		kv   []string
		want error
	}{
		"no agreement":       {[]string{acp.FRespCode, "40"}, agent.ErrNoAgreement},
		"pending":            {[]string{acp.FRespCode, "05"}, agent.ErrInDoubt},
		"identity":           {[]string{acp.FRespCode, "66"}, ErrRefused},
		"no id":              {[]string{acp.FRespCode, "00", acp.FPerTxnLimit, "1", acp.FDailyLimit, "1"}, ErrMalformed},
		"a kind not known":   {[]string{acp.FRespCode, "00", acp.FAgreementID, "A", acp.FPerTxnLimit, "1", acp.FDailyLimit, "1", "src1Kind", "wallet", "src1Token", "t"}, ErrMalformed},
		"a relation not one": {[]string{acp.FRespCode, "00", acp.FAgreementID, "A", acp.FPerTxnLimit, "1", acp.FDailyLimit, "1", acp.FFamilyRel, "cousin"}, ErrMalformed},
		"limit not fen":      {[]string{acp.FRespCode, "00", acp.FAgreementID, "A", acp.FPerTxnLimit, "300.00", acp.FDailyLimit, "1"}, ErrMalformed},
	} {
		var r *rig
		r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) { r.reply(w, req, c.kv...) })
		_, err := r.client.Agreement(ctx(t), agent.AgreementQuery{IDNo: "441900199210101014"})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
}

func TestSignLimitsAndCancelSendTheirFields(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		switch req[acp.FTxnType] {
		case acp.TxnAgreementSign:
			card, err := acp.Decrypt(r.channel, req[acp.FAccNo])
			if err != nil || card != "6222021234567890123" {
				t.Errorf("accNo %q %v", card, err)
			}
			bag, _ := acp.ParseBag(req[acp.FReserved])
			if bag[acp.BagSourceKind] != "bank_card" || bag[acp.BagAcctFirst] != "1" || bag[acp.BagOperator] != "K01" || bag[acp.BagOperatorTp] != "2" {
				t.Errorf("reserved %v", bag)
			}
			r.reply(w, req, acp.FRespCode, "00", acp.FAgreementID, "AG9", acp.FPerTxnLimit, "30000", acp.FDailyLimit, "100000",
				"src1Kind", "bank_card", "src1Token", "6235000000000000009", "src1Masked", "6222 **** 0123")
		case acp.TxnAgreementLimits:
			bag, _ := acp.ParseBag(req[acp.FReserved])
			if bag[acp.BagAgreementID] != "AG9" || bag[acp.BagPerTxn] != "5000" || bag[acp.BagDaily] != "" {
				t.Errorf("reserved %v", bag)
			}
			r.reply(w, req, acp.FRespCode, "33", acp.FRespMsg, "交易金额超限")
		case acp.TxnAgreementCancel:
			r.reply(w, req, acp.FRespCode, "40")
		}
	})
	kiosk := agent.Operator{ID: "K01", Type: "2"}
	a, err := r.client.Sign(ctx(t), agent.SignRequest{
		Patient: agent.AgreementQuery{IDNo: "441900199210101014", Name: "龚䶮"}, AccountFirst: true, Operator: kiosk,
		Source: agent.PaySource{Kind: agent.SourceBankCard, Token: "6222021234567890123"},
	})
	if err != nil || a.ID != "AG9" || a.Sources[0].Token != "6235000000000000009" {
		t.Fatalf("sign: %+v %v", a, err)
	}
	_, err = r.client.SetLimits(ctx(t), agent.LimitsRequest{AgreementRef: agent.AgreementRef{AgreementID: "AG9", Operator: kiosk}, PerPayment: 5000})
	var re *RespError
	if !errors.As(err, &re) || re.Code != "33" || !errors.Is(err, agent.ErrInvalid) {
		t.Fatalf("set limits refused: %v", err)
	}
	if err := r.client.CancelAgreement(ctx(t), agent.AgreementRef{AgreementID: "AG9", Operator: kiosk}); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("cancel of an unknown agreement: %v", err)
	}
	if got := r.requests(); got[0][acp.FOrderID] == got[1][acp.FOrderID] || !acp.ValidOrderID(got[0][acp.FOrderID]) {
		t.Fatalf("agreement calls' orderIds %q %q", got[0][acp.FOrderID], got[1][acp.FOrderID])
	}
}

func TestReversalsNameTheOriginal(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		r.reply(w, req, acp.FRespCode, "00", acp.FQueryID, "51260310093000000002"+req[acp.FTxnType][:1], acp.FSettleDate, "0310")
	})
	rev := agent.PayReversal{OrderRef: agent.OrderRef{OrderID: "MT2026031000020", TxnTime: orderTime},
		Original: agent.OrderRef{OrderID: "MT2026031000001", TxnTime: orderTime}, OriginalQID: "512603100930000000001", Amount: 1800}
	if out, err := r.client.CancelPayment(ctx(t), rev); err != nil || out.Status != agent.PaySucceeded {
		t.Fatalf("cancel %+v %v", out, err)
	}
	rev.OrderID = "MT2026031000021"
	rev.Amount = 800
	if out, err := r.client.RefundPayment(ctx(t), rev); err != nil || out.Status != agent.PaySucceeded || out.Amount != 800 {
		t.Fatalf("refund %+v %v", out, err)
	}
	got := r.requests()
	if got[0][acp.FTxnType] != "31" || got[0][acp.FBizType] != acp.BizCancel || got[0][acp.FOrigQryID] != "512603100930000000001" || got[0][acp.FTxnAmt] != "1800" {
		t.Errorf("cancel request %v", got[0])
	}
	if got[1][acp.FTxnType] != "04" || got[1][acp.FBizType] != acp.BizToken || got[1][acp.FTxnAmt] != "800" {
		t.Errorf("refund request %v", got[1])
	}
	rev.OriginalQID = ""
	if _, err := r.client.RefundPayment(ctx(t), rev); !errors.Is(err, agent.ErrInvalid) {
		t.Errorf("a refund without the original's queryId: %v", err)
	}
}

func TestNoPersonalDataInTheLog(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		if n == 1 {
			hangUp(w) // a resend, and its log line
			return
		}
		r.reply(w, req, acp.FRespCode, "00", acp.FAgreementID, "AG9", acp.FPerTxnLimit, "30000", acp.FDailyLimit, "100000",
			"src1Kind", "bank_card", "src1Token", "6235000000000000009", "src1Masked", "6222 **** 0123")
	})
	var buf bytes.Buffer
	c, err := New(r.cfg, Options{Clock: autoClock(t), Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign(ctx(t), agent.SignRequest{Patient: agent.AgreementQuery{IDNo: "441900199210101014", Name: "龚䶮"},
		Source: agent.PaySource{Kind: agent.SourceBankCard, Token: "6222021234567890123"}}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Fatal("nothing logged")
	}
	for _, secret := range []string{"441900199210101014", "龚䶮", "6222021234567890123", "6235000000000000009"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, buf.String())
		}
	}
}
