package unionpay

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

func TestPayIsSignedAndAnAnswerSignedByTheChannelIsBelieved(t *testing.T) {
	r := newRig(t, nil)
	r.answer = func(w http.ResponseWriter, n int, req acp.Fields) {
		r.reply(w, req, acp.FRespCode, "00", acp.FRespMsg, "成功", acp.FQueryID, "512603100930000000001", acp.FSettleDate, "0310")
	}
	out, err := r.client.Pay(ctx(t), order("MT2026031000001", 1800))
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != agent.PaySucceeded || out.QueryID != "512603100930000000001" || out.Amount != 1800 || out.SettleDate != "0310" {
		t.Fatalf("outcome %+v", out)
	}
	req := r.requests()[0]
	for k, want := range map[string]string{
		acp.FTxnType: "01", acp.FTxnSubType: "01", acp.FBizType: "000902", acp.FAccessType: "0", acp.FChannelType: "07",
		acp.FTxnTime: "20260310093000", acp.FTxnAmt: "1800", acp.FCurrencyCode: "156", acp.FSignMethod: acp.SignMethodSM2,
		acp.FTokenPayData: "{trId=62000000001&token=6235240000000000001}", acp.FReserved: "{agreementId=AG0001}",
		acp.FReqReserved: "S20260310001",
	} {
		if req[k] != want {
			t.Errorf("request %s = %q, want %q", k, req[k], want)
		}
	}
}

func TestATamperedOrForeignAnswerIsRefusedAndLeavesThePaymentInDoubt(t *testing.T) {
	stranger := genKey(t)
	for name, answer := range map[string]func(r *rig, w http.ResponseWriter, req acp.Fields){
		"tampered after signing": func(r *rig, w http.ResponseWriter, req acp.Fields) {
			ans := echo(req, acp.FRespCode, "64", acp.FRespMsg, "余额不足")
			_ = acp.Sign(r.channel, ans)
			ans[acp.FRespCode] = "00" // a refusal turned into a success on the way
			ans[acp.FQueryID] = "512603100930000000001"
			writeForm(w, ans)
		},
		"signed by another key": func(r *rig, w http.ResponseWriter, req acp.Fields) {
			ans := echo(req, acp.FRespCode, "00", acp.FQueryID, "512603100930000000001")
			_ = acp.Sign(stranger, ans)
			writeForm(w, ans)
		},
		"unsigned": func(r *rig, w http.ResponseWriter, req acp.Fields) {
			ans := echo(req, acp.FRespCode, "00", acp.FQueryID, "512603100930000000001", acp.FSignMethod, acp.SignMethodSM2)
			writeForm(w, ans)
		},
	} {
		t.Run(name, func(t *testing.T) {
			var r *rig
			r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) { answer(r, w, req) })
			out, err := r.client.Pay(ctx(t), order("MT2026031000002", 1800))
			if !errors.Is(err, ErrBadSignature) || !errors.Is(err, agent.ErrInDoubt) {
				t.Fatalf("err %v, want ErrBadSignature and ErrInDoubt", err)
			}
			if out.Status == agent.PaySucceeded || out.QueryID != "" {
				t.Fatalf("something was claimed: %+v", out)
			}
			if n := len(r.requests()); n != 1 {
				t.Fatalf("%d requests: an answer received is not resent", n)
			}
		})
	}
}

func TestRespCodesMapToOutcomes(t *testing.T) {
	for _, c := range []struct {
		code, qid string
		status    string
		reason    string
	}{
		{"00", "512603100930000000001", agent.PaySucceeded, ""},
		{"00", "", agent.PayUnknown, ""}, // accepted, not booked: query it
		{"03", "", agent.PayUnknown, ""},
		{"04", "", agent.PayUnknown, ""},
		{"05", "", agent.PayUnknown, ""},
		{"33", "", agent.PayRefused, agent.ReasonLimitPerPayment},
		{"81", "", agent.PayRefused, agent.ReasonLimitDaily},
		{"64", "", agent.PayRefused, agent.ReasonInsufficient},
		{"90", "", agent.PayRefused, agent.ReasonInsufficient},
		{"82", "", agent.PayRefused, agent.ReasonConfirmRequired},
		{"40", "", agent.PayRefused, agent.ReasonNoAgreement},
		{"72", "", agent.PayRefused, agent.ReasonNoAgreement},
		{"63", "", agent.PayRefused, agent.ReasonSourceInvalid},
		{"78", "", agent.PayRefused, agent.ReasonSourceInvalid},
		{"11", "", agent.PayRefused, agent.ReasonOther},
		{"ZZ", "512603100930000000001", agent.PayRefused, agent.ReasonOther}, // unknown: never a success
	} {
		var r *rig
		r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
			r.reply(w, req, acp.FRespCode, c.code, acp.FRespMsg, "m", acp.FQueryID, c.qid)
		})
		out, err := r.client.Pay(ctx(t), order("MT2026031000003", 1800))
		if err != nil {
			t.Errorf("respCode %s: %v", c.code, err)
			continue
		}
		if out.Status != c.status || out.Reason != c.reason {
			t.Errorf("respCode %s: %s/%s, want %s/%s", c.code, out.Status, out.Reason, c.status, c.reason)
		}
		if out.Status != agent.PaySucceeded && out.QueryID != "" {
			t.Errorf("respCode %s: a queryId on an outcome that is not a success", c.code)
		}
	}
}

func TestADuplicateOrderWithOtherContentIsAConflictNotARefusal(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		r.reply(w, req, acp.FRespCode, "12", acp.FRespMsg, "重复交易")
	})
	_, err := r.client.Pay(ctx(t), order("MT2026031000004", 1800))
	if !errors.Is(err, agent.ErrIdempotencyConflict) {
		t.Fatalf("err %v, want ErrIdempotencyConflict", err)
	}
}

func TestQueryReadsOrigRespCode(t *testing.T) {
	for _, c := range []struct {
		resp, orig string
		status     string
		reason     string
		wantErr    error
	}{
		{"00", "00", agent.PaySucceeded, "", nil},
		{"00", "A6", agent.PaySucceeded, "", nil},
		{"00", "05", agent.PayUnknown, "", nil},
		{"00", "64", agent.PayRefused, agent.ReasonInsufficient, nil},
		{"34", "", agent.PayRefused, agent.ReasonNotFound, nil},
		{"05", "", agent.PayUnknown, "", nil},
		{"00", "", "", "", ErrMalformed},
		{"11", "", "", "", ErrRefused}, // the query refused says nothing of the order
	} {
		var r *rig
		r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
			r.reply(w, req, acp.FRespCode, c.resp, acp.FOrigRespCode, c.orig, acp.FQueryID, "512603100930000000001", acp.FTxnAmt, "1800")
		})
		out, err := r.client.Query(ctx(t), agent.OrderRef{OrderID: "MT2026031000005", TxnTime: orderTime})
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s/%s: err %v, want %v", c.resp, c.orig, err, c.wantErr)
			}
			continue
		}
		if err != nil || out.Status != c.status || out.Reason != c.reason {
			t.Errorf("%s/%s: %+v %v, want %s/%s", c.resp, c.orig, out, err, c.status, c.reason)
		}
		if c.status == agent.PaySucceeded && (out.Amount != 1800 || out.QueryID == "") {
			t.Errorf("%s/%s: success without its amount or id: %+v", c.resp, c.orig, out)
		}
		q := r.requests()[0]
		if q[acp.FTxnType] != "00" || q[acp.FOrderID] != "MT2026031000005" || q[acp.FTxnTime] != "20260310093000" {
			t.Errorf("query request %v", q)
		}
	}
}

func TestNeverWrittenIsUnreachableAndWrittenWithoutAnswerIsInDoubt(t *testing.T) {
	t.Run("nothing listens", func(t *testing.T) {
		r := newRig(t, nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		cfg := r.cfg
		cfg.URL = "http://" + addr + "/gateway/api"
		c, err := New(cfg, Options{Clock: autoClock(t)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Pay(ctx(t), order("MT2026031000006", 1800))
		if !errors.Is(err, agent.ErrUnreachable) || errors.Is(err, agent.ErrInDoubt) {
			t.Fatalf("err %v, want ErrUnreachable only", err)
		}
	})
	t.Run("read and hung up", func(t *testing.T) {
		r := newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) { hangUp(w) })
		_, err := r.client.Pay(ctx(t), order("MT2026031000007", 1800))
		if !errors.Is(err, agent.ErrInDoubt) || errors.Is(err, agent.ErrUnreachable) {
			t.Fatalf("err %v, want ErrInDoubt only", err)
		}
		got := r.requests()
		if len(got) != DefaultAttempts {
			t.Fatalf("%d attempts, want %d", len(got), DefaultAttempts)
		}
		for _, f := range got[1:] {
			if f[acp.FOrderID] != got[0][acp.FOrderID] || f[acp.FTxnTime] != got[0][acp.FTxnTime] || f[acp.FSignature] != got[0][acp.FSignature] {
				t.Fatalf("a resend is not the same request: %v", f)
			}
		}
	})
	t.Run("a gateway's error page every time", func(t *testing.T) {
		r := newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
			http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
		})
		_, err := r.client.Pay(ctx(t), order("MT2026031000008", 1800))
		if !errors.Is(err, agent.ErrInDoubt) {
			t.Fatalf("err %v, want ErrInDoubt", err)
		}
	})
}

func TestALostAnswerIsResentUnderTheSameOrderAndItsAnswerTaken(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		if n == 1 {
			hangUp(w) // booked, and the answer lost
			return
		}
		r.reply(w, req, acp.FRespCode, "00", acp.FQueryID, "512603100930000000009", acp.FSettleDate, "0310")
	})
	out, err := r.client.Pay(ctx(t), order("MT2026031000009", 2500))
	if err != nil || out.Status != agent.PaySucceeded || out.QueryID != "512603100930000000009" {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if got := r.requests(); len(got) != 2 || got[1][acp.FOrderID] != "MT2026031000009" {
		t.Fatalf("requests %d", len(got))
	}
}

func TestAResendRefusedUnreadAfterALostAnswerIsInDoubt(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		if n == 1 {
			hangUp(w)
			return
		}
		r.reply(w, req, acp.FRespCode, "06", acp.FRespMsg, "系统繁忙")
	})
	_, err := r.client.Pay(ctx(t), order("MT2026031000010", 2500))
	if !errors.Is(err, agent.ErrInDoubt) {
		t.Fatalf("err %v: the first attempt may have been booked", err)
	}
}

func TestMalformedAnswersAreTypedAndClaimNothing(t *testing.T) {
	for name, kv := range map[string][]string{
		"another order":      {acp.FOrderID, "MT2026031099999", acp.FRespCode, "00", acp.FQueryID, "512603100930000000001"},
		"another amount":     {acp.FTxnAmt, "180000", acp.FRespCode, "00", acp.FQueryID, "512603100930000000001"},
		"another merchant":   {acp.FMerID, "898440148169999", acp.FRespCode, "00", acp.FQueryID, "512603100930000000001"},
		"another order time": {acp.FTxnTime, "20260310093001", acp.FRespCode, "00", acp.FQueryID, "512603100930000000001"},
	} {
		t.Run(name, func(t *testing.T) {
			var r *rig
			r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) { r.reply(w, req, kv...) })
			out, err := r.client.Pay(ctx(t), order("MT2026031000011", 1800))
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, agent.ErrInDoubt) {
				t.Fatalf("err %v, want ErrMalformed and ErrInDoubt", err)
			}
			if out != (agent.PayOutcome{}) {
				t.Fatalf("outcome %+v", out)
			}
		})
	}
	t.Run("a value that reads two ways", func(t *testing.T) {
		r := newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
			// Not a form this package reads: handled as no answer at all.
			_, _ = w.Write([]byte("respCode=00&respMsg=" + strings.ReplaceAll("a&queryId=1", "&", "%26")))
		})
		_, err := r.client.Pay(ctx(t), order("MT2026031000012", 1800))
		if !errors.Is(err, agent.ErrInDoubt) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestRequestsTheChannelWouldRefuseAreNotSent(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) { t.Error("sent") })
	for name, o := range map[string]agent.PayOrder{
		"short order id":    func() agent.PayOrder { o := order("MT1", 1800); return o }(),
		"zero amount":       order("MT2026031000013", 0),
		"no token":          func() agent.PayOrder { o := order("MT2026031000014", 1800); o.Source.Token = ""; return o }(),
		"token with a bag":  func() agent.PayOrder { o := order("MT2026031000015", 1800); o.Source.Token = "1&token=2"; return o }(),
		"settlement with =": func() agent.PayOrder { o := order("MT2026031000016", 1800); o.Settlement = "a=b"; return o }(),
	} {
		if _, err := r.client.Pay(ctx(t), o); !errors.Is(err, agent.ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
}

func TestAnAnswerLaterThanTheAttemptTimeoutIsLostAndTheOrderInDoubt(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		<-release // the channel took the request and never answers in time
	})
	t.Cleanup(func() { close(release) })
	cfg := r.cfg
	cfg.AttemptTimeout = 50 * time.Millisecond
	cfg.Attempts = 2
	c, err := New(cfg, Options{Clock: autoClock(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Pay(ctx(t), order("MT2026031000017", 1800))
	if !errors.Is(err, agent.ErrInDoubt) {
		t.Fatalf("err %v, want ErrInDoubt", err)
	}
	if n := len(r.requests()); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
}
