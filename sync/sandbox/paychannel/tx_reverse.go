package paychannel

import (
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// refundMonths is how long after a payment a refund is taken: ACP's 11
// months (research notes §12.4; COUNTERPARTIES.md).
const refundMonths = 11

// cancel is a consume undo (txnType 31): the whole payment, on its own
// clearing day. Its bizType is the token demo's 000201; the consume's
// 000902 is taken too, as the public sources disagree.
func (c *Channel) cancel(f acp.Fields) (acp.Fields, error) {
	return c.reverse(f, []string{acp.BizCancel, acp.BizToken}, func(orig *orderRec, amount money.Fen, now time.Time) *refusal {
		switch {
		case orig.SettleDay != acp.Day(now):
			return refusef(acp.CodeOutOfTime, "消费撤销仅能对当清算日的消费做")
		case amount != orig.Amount:
			return refusef(acp.CodeOrigDiffer, "消费撤销必须为全额")
		}
		orig.Cancelled = true
		return nil
	})
}

// refund is a refund (txnType 04): any part of what is left of a payment,
// within refundMonths of it, on its day or later.
func (c *Channel) refund(f acp.Fields) (acp.Fields, error) {
	return c.reverse(f, []string{acp.BizToken}, func(orig *orderRec, amount money.Fen, now time.Time) *refusal {
		switch {
		case now.After(orig.Booked.AddDate(0, refundMonths, 0)):
			return refusef(acp.CodeOutOfTime, "超过退货期限")
		case amount > orig.Amount-orig.Refunded:
			return refusef(acp.CodeOrigDiffer, "退货金额超过原交易剩余金额 %s", orig.Amount-orig.Refunded)
		}
		orig.Refunded += amount
		return nil
	})
}

// reverse books a cancel or a refund of the payment origQryId names, and
// gives the amount back to the source it came from. rule checks the
// reversal against the original and marks the original.
func (c *Channel) reverse(f acp.Fields, bizTypes []string, rule func(orig *orderRec, amount money.Fen, now time.Time) *refusal) (acp.Fields, error) {
	if bad := checkOrderFields(f, true); bad != nil {
		return answerTo(f, bad), nil
	}
	if f[acp.FOrigQryID] == "" {
		return answerTo(f, refusef(acp.CodeMissing, "origQryId")), nil
	}
	if f[acp.FTxnSubType] != acp.SubDefault || !oneOf(f[acp.FBizType], bizTypes) {
		return answerTo(f, refusef(acp.CodeFormat, "txnSubType %s bizType %s", f[acp.FTxnSubType], f[acp.FBizType])), nil
	}
	amount, _ := parseAmount(f[acp.FTxnAmt])
	return c.once(f, func(s state, rec *orderRec) error {
		now := c.clock.Now()
		bad, err := c.reverseOrig(s, f, rec, amount, now, rule)
		if err != nil {
			return err
		}
		if bad != nil {
			rec.Code, rec.Msg, rec.Answer = bad.code, bad.msg, answerTo(f, bad)
			return nil
		}
		rec.Code, rec.Msg = acp.CodeOK, acp.Message(acp.CodeOK)
		rec.Answer = answerTo(f, refuse(acp.CodeOK))
		rec.Answer[acp.FQueryID], rec.Answer[acp.FSettleDate] = rec.QueryID, acp.SettleDate(now)
		rec.Answer[acp.FOrigQryID] = rec.OrigQryID
		c.log.Info("payment channel reversal", "order", rec.OrderID, "txn_type", rec.TxnType, "resp_code", rec.Code)
		return nil
	})
}

func (c *Channel) reverseOrig(s state, f acp.Fields, rec *orderRec, amount money.Fen, now time.Time,
	rule func(orig *orderRec, amount money.Fen, now time.Time) *refusal) (*refusal, error) {
	orig, err := s.orderByQueryID(f[acp.FOrigQryID])
	if err != nil {
		return nil, err
	}
	switch {
	case orig == nil || orig.MerID != rec.MerID || orig.TxnType != acp.TxnConsume || !orig.booked():
		return refuse(acp.CodeOrigState), nil
	case orig.Cancelled || (rec.TxnType == acp.TxnCancel && orig.Refunded > 0):
		return refuse(acp.CodeReversed), nil
	}
	if bad := rule(orig, amount, now); bad != nil {
		return bad, nil
	}
	a, err := s.agreement(orig.Agreement)
	if err != nil {
		return nil, err
	}
	// The money goes back where it came from, even to a source or an
	// agreement cancelled since: it is the patient's.
	if src := a.source(orig.Token); src != nil {
		src.Balance += amount
		if err := s.putAgreement(a); err != nil {
			return nil, err
		}
	}
	if err := s.putOrder(orig); err != nil {
		return nil, err
	}
	if rec.QueryID, err = s.nextQueryID(now); err != nil {
		return nil, err
	}
	rec.Amount, rec.SettleDay, rec.Booked, rec.OrigQryID = amount, acp.Day(now), now, orig.QueryID
	rec.Agreement, rec.Token, rec.Masked = orig.Agreement, orig.Token, orig.Masked
	return nil, nil
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
