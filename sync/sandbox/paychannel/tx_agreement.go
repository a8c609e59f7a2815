package paychannel

import (
	"encoding/hex"
	"strconv"

	"github.com/emmansun/gmsm/sm3"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// The agreement operations are medterm's (package acp): txnType M0 to M3.
// Each is an order like a payment, answered once.

func (c *Channel) agreementOp(f acp.Fields) (acp.Fields, error) {
	if bad := checkOrderFields(f, false); bad != nil {
		return answerTo(f, bad), nil
	}
	if f[acp.FBizType] != acp.BizAgreement {
		return answerTo(f, refusef(acp.CodeFormat, "bizType %q", f[acp.FBizType])), nil
	}
	var op func(s state, f acp.Fields, res map[string]string) (acp.Fields, error)
	switch f[acp.FTxnType] {
	case acp.TxnAgreementQuery:
		op = c.lookup
	case acp.TxnAgreementSign:
		op = c.sign
	case acp.TxnAgreementLimits:
		op = c.setLimits
	case acp.TxnAgreementCancel:
		op = c.cancelAgreement
	default:
		return answerTo(f, refusef(acp.CodeFormat, "txnType %q", f[acp.FTxnType])), nil
	}
	res := map[string]string{}
	if f[acp.FReserved] != "" {
		var err error
		if res, err = acp.ParseBag(f[acp.FReserved]); err != nil {
			return answerTo(f, refusef(acp.CodeFormat, "reserved")), nil
		}
	}
	return c.once(f, func(s state, rec *orderRec) error {
		ans, err := op(s, f, res)
		if err != nil {
			return err
		}
		rec.Code, rec.Msg, rec.Answer = ans[acp.FRespCode], ans[acp.FRespMsg], ans
		c.log.Info("payment channel agreement call", "order", rec.OrderID, "txn_type", rec.TxnType, "resp_code", rec.Code)
		return nil
	})
}

// customer opens customerInfo: the patient's ID number and name. A name
// that is not the persona's is refused (66), as a bank checks identity.
func (c *Channel) customer(f acp.Fields, needName bool) (idNo, name string, bad *refusal) {
	if f[acp.FCustomerInfo] == "" {
		return "", "", refusef(acp.CodeMissing, "customerInfo")
	}
	plain, err := acp.Decrypt(c.key, f[acp.FCustomerInfo])
	if err != nil {
		return "", "", refusef(acp.CodeFormat, "customerInfo")
	}
	bag, err := acp.ParseBag(plain)
	if err != nil || bag[acp.BagCertifTp] != acp.CertifResident {
		return "", "", refusef(acp.CodeFormat, "customerInfo")
	}
	idNo, name = bag[acp.BagCertifID], bag[acp.BagCustomerNm]
	switch {
	case idno.Check(idNo) != nil:
		return "", "", refuse(acp.CodeIdentity)
	case needName && name == "":
		return "", "", refusef(acp.CodeMissing, "customerNm")
	case name != "" && c.names[idNo] != "" && name != c.names[idNo]:
		return "", "", refuse(acp.CodeIdentity)
	}
	return idNo, name, nil
}

// lookup (M0) answers the patient's own agreement, or, for a patient
// without one, the family link that covers them (the signer's sources).
// A minor's own agreement would not count: minors pay through family pay.
func (c *Channel) lookup(s state, f acp.Fields, _ map[string]string) (acp.Fields, error) {
	idNo, _, bad := c.customer(f, false)
	if bad != nil {
		return answerTo(f, bad), nil
	}
	h, err := s.holder(idNo)
	if err != nil {
		return nil, err
	}
	if age, _ := ageOf(idNo, c.clock.Now()); h.Own != "" && age >= policy.AdultAge {
		a, err := s.agreement(h.Own)
		if err != nil {
			return nil, err
		}
		if a != nil && !a.Cancelled {
			return c.agreementAnswer(f, a, nil), nil
		}
	}
	if h.Link != "" {
		a, l, err := c.payer(s, h.Link)
		if err != nil {
			return nil, err
		}
		if a != nil {
			return c.agreementAnswer(f, a, l), nil
		}
	}
	return answerTo(f, refuse(acp.CodeNoBinding)), nil
}

// sign (M1) binds a source to the patient's agreement, making one if
// there is none. Minors are refused (they pay through family pay); a
// credit line only for 18 to 65, and granted at the sandbox's amount.
func (c *Channel) sign(s state, f acp.Fields, res map[string]string) (acp.Fields, error) {
	idNo, name, bad := c.customer(f, true)
	if bad != nil {
		return answerTo(f, bad), nil
	}
	now := c.clock.Now()
	if age, _ := ageOf(idNo, now); age < policy.AdultAge {
		return answerTo(f, refusef(acp.CodeNoRight, "未成年人请由家人通过亲情付支付")), nil
	}
	kind := res[acp.BagSourceKind]
	number, err := acp.Decrypt(c.key, f[acp.FAccNo])
	if f[acp.FAccNo] == "" || err != nil {
		return answerTo(f, refusef(acp.CodeMissing, "accNo")), nil
	}
	src := sourceRec{Kind: kind, Bank: res[acp.BagBank]}
	switch kind {
	case agent.SourceBankCard, agent.SourceCardAccount:
		if len(number) < 12 || len(number) > 19 || !acp.Digits(number) {
			return answerTo(f, refuse(acp.CodeBadCardNo)), nil
		}
		src.Masked, src.Balance = number[:4]+" **** "+number[len(number)-4:], c.data.Signed.Balance
	case agent.SourceCreditLine:
		if len(number) < 4 || len(number) > 32 {
			return answerTo(f, refuse(acp.CodeBadCardNo)), nil
		}
		if !c.creditAge(idNo, now) {
			return answerTo(f, refusef(acp.CodeRestricted, "信用就医限18至65周岁")), nil
		}
		src.Masked, src.Limit, src.Balance = "信用就医 **** "+number[len(number)-4:], c.data.Signed.CreditLine, c.data.Signed.CreditLine
	default:
		return answerTo(f, refusef(acp.CodeFormat, "sourceKind %q", kind)), nil
	}
	if src.Bank == "" {
		src.Bank = "沙箱银行"
	}
	sum := sm3.Sum([]byte(kind + "/" + number))
	src.Account = hex.EncodeToString(sum[:])

	h, err := s.holder(idNo)
	if err != nil {
		return nil, err
	}
	var a *agreementRec
	if h.Own != "" {
		if a, err = s.agreement(h.Own); err != nil {
			return nil, err
		}
	}
	if a == nil || a.Cancelled {
		a = &agreementRec{ID: derive("AG", idNo+"/"+f[acp.FOrderID], 16), Holder: idNo, Name: name}
		h.Own = a.ID
		if err := s.putHolder(idNo, h); err != nil {
			return nil, err
		}
	}
	a.AccountFirst = res[acp.BagAcctFirst] == "1"
	if !a.bound(src.Account) {
		src.Token = derive("6235", a.ID+"/"+src.Account, 15)
		a.Sources = append(a.Sources, src)
	}
	if err := s.putAgreement(a); err != nil {
		return nil, err
	}
	return c.agreementAnswer(f, a, nil), nil
}

func (a *agreementRec) bound(account string) bool {
	for _, s := range a.Sources {
		if s.Account == account && !s.Cancelled {
			return true
		}
	}
	return false
}

// setLimits (M2) sets the holder's own limits, each above zero and at
// most the rollout's; a family link's limits are the signer's to set.
func (c *Channel) setLimits(s state, f acp.Fields, res map[string]string) (acp.Fields, error) {
	id := res[acp.BagAgreementID]
	if l, err := s.link(id); err != nil || l != nil {
		if err != nil {
			return nil, err
		}
		return answerTo(f, refusef(acp.CodeNoRight, "亲情付的限额由签约人设置")), nil
	}
	a, err := s.agreement(id)
	if err != nil {
		return nil, err
	}
	if a == nil || a.Cancelled {
		return answerTo(f, refuse(acp.CodeNoBinding)), nil
	}
	per, daily := res[acp.BagPerTxn], res[acp.BagDaily]
	if per == "" && daily == "" {
		return answerTo(f, refusef(acp.CodeMissing, "perTxnLimit, dailyLimit")), nil
	}
	set := func(text string, max money.Fen, to *money.Fen) *refusal {
		if text == "" {
			return nil
		}
		v, ok := parseAmount(text)
		if !ok || v <= 0 || v > max {
			return refusef(acp.CodeAmountOver, "限额须大于0且不超过 %s 元", max)
		}
		*to = v
		return nil
	}
	if bad := set(per, c.data.Rollout.PerPayment, &a.PerPayment); bad != nil {
		return answerTo(f, bad), nil
	}
	if bad := set(daily, c.data.Rollout.Daily, &a.Daily); bad != nil {
		return answerTo(f, bad), nil
	}
	if err := s.putAgreement(a); err != nil {
		return nil, err
	}
	return c.agreementAnswer(f, a, nil), nil
}

// cancelAgreement (M3) ends an agreement, its sources and the family links
// it pays for; or, named by a link's id, that link only.
func (c *Channel) cancelAgreement(s state, f acp.Fields, res map[string]string) (acp.Fields, error) {
	id := res[acp.BagAgreementID]
	if l, err := s.link(id); err != nil || l != nil {
		if err != nil {
			return nil, err
		}
		if l.Cancelled {
			return answerTo(f, refuse(acp.CodeNoBinding)), nil
		}
		l.Cancelled = true
		if err := s.putLink(l); err != nil {
			return nil, err
		}
		return answerTo(f, refuse(acp.CodeOK)), nil
	}
	a, err := s.agreement(id)
	if err != nil {
		return nil, err
	}
	if a == nil || a.Cancelled {
		return answerTo(f, refuse(acp.CodeNoBinding)), nil
	}
	a.Cancelled = true
	for i := range a.Sources {
		a.Sources[i].Cancelled = true
	}
	for _, lid := range a.Links {
		l, err := s.link(lid)
		if err != nil {
			return nil, err
		}
		if l != nil && !l.Cancelled {
			l.Cancelled = true
			if err := s.putLink(l); err != nil {
				return nil, err
			}
		}
	}
	if err := s.putAgreement(a); err != nil {
		return nil, err
	}
	return answerTo(f, refuse(acp.CodeOK)), nil
}

// agreementAnswer is the 00 answer describing a (seen through link when
// given): its limits in force, its live sources in order, the link.
func (c *Channel) agreementAnswer(f acp.Fields, a *agreementRec, link *linkRec) acp.Fields {
	ans := answerTo(f, refuse(acp.CodeOK))
	ans[acp.FAgreementID] = a.ID
	perTxn, daily := c.limits(a)
	ans[acp.FAccountFirst], ans[acp.FPerTxnLimit], ans[acp.FDailyLimit] = flag(a.AccountFirst), fenText(perTxn), fenText(daily)
	n := 0
	for _, src := range a.Sources {
		if src.Cancelled {
			continue
		}
		n++
		ans[acp.SourceField(n, acp.FSrcKind)], ans[acp.SourceField(n, acp.FSrcToken)] = src.Kind, src.Token
		ans[acp.SourceField(n, acp.FSrcMasked)], ans[acp.SourceField(n, acp.FSrcBank)] = src.Masked, src.Bank
		if src.Kind == agent.SourceCreditLine {
			ans[acp.SourceField(n, acp.FSrcAvailable)] = fenText(src.Balance)
		}
	}
	if link != nil {
		ans[acp.FAgreementID] = link.ID
		ans[acp.FFamilyRel], ans[acp.FFamilyConfirm], ans[acp.FFamilySigner] = link.Relation, flag(link.ConfirmFirst), mask.Name(a.Name)
	}
	return ans
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func fenText(f money.Fen) string { return strconv.FormatInt(int64(f), 10) }

func itoa(n int) string { return strconv.Itoa(n) }
