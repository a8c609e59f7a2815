package paychannel

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/emmansun/gmsm/sm3"
	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// refusal is a request refused on its merits or its form: its code.
type refusal struct{ code, msg string }

func (r *refusal) Error() string { return r.code + " " + r.msg }

func refuse(code string) *refusal { return &refusal{code: code, msg: acp.Message(code)} }

func refusef(code, format string, a ...any) *refusal {
	return &refusal{code: code, msg: acp.Message(code) + ": " + fmt.Sprintf(format, a...)}
}

// fingerprintFields are what make two requests under one orderId the same
// order. Fields the channel does not read are left out, as a real channel
// is lenient on them.
var fingerprintFields = []string{
	acp.FTxnType, acp.FTxnSubType, acp.FBizType, acp.FTxnTime, acp.FTxnAmt, acp.FCurrencyCode,
	acp.FTokenPayData, acp.FReserved, acp.FOrigQryID, acp.FReqReserved, acp.FCustomerInfo, acp.FAccNo,
}

func fingerprint(f acp.Fields) string {
	g := acp.Fields{}
	for _, k := range fingerprintFields {
		g[k] = f[k]
	}
	sum := sm3.Sum([]byte(g.Canonical()))
	return hex.EncodeToString(sum[:])
}

// once runs an order exactly once: a request whose orderId the merchant
// has used before gets the first answer again if it is the same order, and
// 12 if it is not. decide is called for a new order only, inside the same
// bbolt transaction that stores it.
func (c *Channel) once(f acp.Fields, decide func(s state, rec *orderRec) error) (acp.Fields, error) {
	var ans acp.Fields
	err := c.db.Update(func(tx *bolt.Tx) error {
		s := state{tx}
		prev, err := s.order(f[acp.FMerID], f[acp.FOrderID])
		if err != nil {
			return err
		}
		fp := fingerprint(f)
		if prev != nil {
			if prev.Fingerprint != fp {
				ans = answerTo(f, refusef(acp.CodeDuplicate, "orderId %s was used for another order", f[acp.FOrderID]))
				return nil
			}
			ans = prev.Answer.Clone()
			return nil
		}
		rec := &orderRec{MerID: f[acp.FMerID], OrderID: f[acp.FOrderID], TxnTime: f[acp.FTxnTime],
			TxnType: f[acp.FTxnType], TxnSub: f[acp.FTxnSubType], BizType: f[acp.FBizType], Fingerprint: fp}
		if err := decide(s, rec); err != nil {
			return err
		}
		ans = rec.Answer
		return s.putOrder(rec)
	})
	return ans, err
}

// consume is a token payment (txnType 01).
func (c *Channel) consume(f acp.Fields) (acp.Fields, error) {
	p, bad := parseConsume(f)
	if bad != nil {
		return answerTo(f, bad), nil
	}
	return c.once(f, func(s state, rec *orderRec) error {
		now := c.clock.Now()
		rec.Amount, rec.Token, rec.Confirmed = p.amount, p.token, p.confirmed
		code, msg, err := c.pay(s, rec, p.agreementID, now)
		if err != nil {
			return err
		}
		rec.Code, rec.Msg = code, msg
		ans := answerTo(f, &refusal{code: code, msg: msg})
		if rec.booked() {
			ans[acp.FQueryID], ans[acp.FSettleDate] = rec.QueryID, acp.SettleDate(now)
			ans[acp.FSettleAmt], ans[acp.FTraceTime] = f[acp.FTxnAmt], now.In(acp.CST).Format("0102150405")
		} else {
			rec.Amount = 0
		}
		if hidden, ok := c.takeUnknown(); ok {
			// The fault: the order is decided as always, the answer says
			// only that its outcome is unknown.
			ans = answerTo(f, refuse(hidden))
		}
		rec.Answer = ans
		c.log.Info("payment channel consume", "order", rec.OrderID, "resp_code", code)
		return nil
	})
}

type consumeReq struct {
	amount      money.Fen
	token       string
	agreementID string
	confirmed   bool
}

func parseConsume(f acp.Fields) (consumeReq, *refusal) {
	var p consumeReq
	if bad := checkOrderFields(f, true); bad != nil {
		return p, bad
	}
	switch {
	case f[acp.FTxnSubType] != acp.SubConsume || f[acp.FBizType] != acp.BizToken:
		return p, refusef(acp.CodeFormat, "txnSubType %s bizType %s", f[acp.FTxnSubType], f[acp.FBizType])
	case f[acp.FCurrencyCode] != acp.CurrencyCNY:
		return p, refusef(acp.CodeFormat, "currencyCode %q", f[acp.FCurrencyCode])
	case f[acp.FTokenPayData] == "" || f[acp.FReserved] == "":
		return p, refusef(acp.CodeMissing, "tokenPayData and reserved")
	}
	tok, err := acp.ParseBag(f[acp.FTokenPayData])
	if err != nil || tok[acp.BagToken] == "" || tok[acp.BagTrID] == "" {
		return p, refusef(acp.CodeFormat, "tokenPayData")
	}
	res, err := acp.ParseBag(f[acp.FReserved])
	if err != nil || res[acp.BagAgreementID] == "" || (res[acp.BagConfirmed] != "" && res[acp.BagConfirmed] != "1") {
		return p, refusef(acp.CodeFormat, "reserved")
	}
	p.amount, _ = parseAmount(f[acp.FTxnAmt])
	p.token, p.agreementID, p.confirmed = tok[acp.BagToken], res[acp.BagAgreementID], res[acp.BagConfirmed] == "1"
	return p, nil
}

// checkOrderFields checks what every order carries: orderId, txnTime and,
// when withAmount, a positive integer txnAmt.
func checkOrderFields(f acp.Fields, withAmount bool) *refusal {
	switch {
	case f[acp.FOrderID] == "" || f[acp.FTxnTime] == "" || (withAmount && f[acp.FTxnAmt] == ""):
		return refusef(acp.CodeMissing, "orderId, txnTime, txnAmt")
	case !acp.ValidOrderID(f[acp.FOrderID]):
		return refusef(acp.CodeFormat, "orderId")
	}
	if _, err := acp.ParseTime(f[acp.FTxnTime]); err != nil {
		return refusef(acp.CodeFormat, "txnTime")
	}
	if withAmount {
		if a, ok := parseAmount(f[acp.FTxnAmt]); !ok || a <= 0 {
			return refusef(acp.CodeFormat, "txnAmt %q", f[acp.FTxnAmt])
		}
	}
	return nil
}

func parseAmount(s string) (money.Fen, bool) {
	if !acp.Digits(s) || len(s) > 12 {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return money.Fen(v), err == nil && money.Fen(v).Valid()
}

// pay decides a payment and books it. The checks run in this order: the
// agreement, a confirm-first link, the source, the credit line's age
// rule, the password-free limits (lifted by a confirmation), the balance.
// A payment is whole from the one source it names or nothing.
func (c *Channel) pay(s state, rec *orderRec, agreementID string, now time.Time) (code, msg string, err error) {
	a, link, err := c.payer(s, agreementID)
	if err != nil {
		return "", "", err
	}
	if a == nil {
		return acp.CodeNoBinding, acp.Message(acp.CodeNoBinding), nil
	}
	if link != nil && link.ConfirmFirst && !rec.Confirmed {
		return acp.CodeNeedPassword, acp.Message(acp.CodeNeedPassword) + ": 亲情付需本人确认", nil
	}
	src := a.source(rec.Token)
	switch {
	case src == nil:
		return acp.CodeBadCardNo, acp.Message(acp.CodeBadCardNo), nil
	case src.Cancelled:
		return acp.CodeCardState, acp.Message(acp.CodeCardState), nil
	case src.Kind == agent.SourceCreditLine && !c.creditAge(a.Holder, now):
		return acp.CodeRestricted, acp.Message(acp.CodeRestricted) + ": 信用就医限18至65周岁", nil
	}
	day := acp.Day(now)
	if !rec.Confirmed {
		perTxn, daily := c.limits(a)
		used, err := s.usage(a.ID, day)
		if err != nil {
			return "", "", err
		}
		switch {
		case rec.Amount > perTxn:
			return acp.CodeAmountOver, acp.Message(acp.CodeAmountOver) + ": 超过单笔免密限额", nil
		case used+rec.Amount > daily:
			return acp.CodeCumulative, acp.Message(acp.CodeCumulative) + ": 超过当日免密限额", nil
		}
	}
	if rec.Amount > src.Balance {
		return acp.CodeNoBalance, acp.Message(acp.CodeNoBalance), nil
	}
	src.Balance -= rec.Amount
	if err := s.putAgreement(a); err != nil {
		return "", "", err
	}
	// Only password-free payments count against the daily limit: a
	// confirmed one is not password-free.
	if !rec.Confirmed {
		if err := s.addUsage(a.ID, day, rec.Amount); err != nil {
			return "", "", err
		}
	}
	if rec.QueryID, err = s.nextQueryID(now); err != nil {
		return "", "", err
	}
	rec.SettleDay, rec.Booked, rec.Agreement, rec.Masked = day, now, a.ID, src.Masked
	return acp.CodeOK, acp.Message(acp.CodeOK), nil
}

// payer resolves an agreement id: a signer's own agreement, or a family
// link whose signer's agreement pays. Either cancelled is no agreement.
func (c *Channel) payer(s state, id string) (*agreementRec, *linkRec, error) {
	a, err := s.agreement(id)
	if err != nil {
		return nil, nil, err
	}
	if a != nil {
		if a.Cancelled {
			return nil, nil, nil
		}
		return a, nil, nil
	}
	l, err := s.link(id)
	if err != nil || l == nil || l.Cancelled {
		return nil, nil, err
	}
	a, err = s.agreement(l.Signer)
	if err != nil || a == nil || a.Cancelled {
		return nil, nil, err
	}
	return a, l, nil
}

func (a *agreementRec) source(token string) *sourceRec {
	for i := range a.Sources {
		if a.Sources[i].Token == token {
			return &a.Sources[i]
		}
	}
	return nil
}

// limits are the agreement's password-free limits: the rollout's, lowered
// by the holder's own.
func (c *Channel) limits(a *agreementRec) (perTxn, daily money.Fen) {
	perTxn, daily = c.data.Rollout.PerPayment, c.data.Rollout.Daily
	if a.PerPayment > 0 {
		perTxn = money.Min(perTxn, a.PerPayment)
	}
	if a.Daily > 0 {
		daily = money.Min(daily, a.Daily)
	}
	return perTxn, daily
}

// creditAge reports whether the holder of idNo may use a credit line on
// now's Beijing day: 18 to 65, inclusive.
func (c *Channel) creditAge(idNo string, now time.Time) bool {
	age, ok := ageOf(idNo, now)
	return ok && age >= c.data.Rollout.CreditMinAge && age <= c.data.Rollout.CreditMaxAge
}

func ageOf(idNo string, now time.Time) (int, bool) {
	birth, err := idno.BirthDate(idNo)
	if err != nil {
		return 0, false
	}
	return policy.AgeOn(birth, now.In(acp.CST)), true
}

// answerTo is the answer to f with r's code: f's order echoed, as ACP
// answers do.
func answerTo(f acp.Fields, r *refusal) acp.Fields {
	ans := acp.Fields{acp.FVersion: acp.Version, acp.FEncoding: acp.Encoding, acp.FRespCode: r.code, acp.FRespMsg: r.msg}
	for _, k := range []string{acp.FTxnType, acp.FTxnSubType, acp.FBizType, acp.FAccessType, acp.FMerID, acp.FOrderID, acp.FTxnTime, acp.FTxnAmt, acp.FCurrencyCode, acp.FReqReserved} {
		if v := f[k]; v != "" {
			ans[k] = v
		}
	}
	return ans
}
