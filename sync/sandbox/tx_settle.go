package sandbox

import (
	"fmt"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

// quote is a computed settlement of a batch, before anything is booked.
type quote struct {
	visit   visit
	batch   batch
	person  *personas.Person
	patient *personState
	payer   *personState // nil when nobody pays; the same pointer as patient when they pay themselves
	query   protocol.SettleQuery
	date    string
	year    string
	sum     policy.Item
	fund    policy.Fund
	hosp    money.Fen // hosp_part_amt: the hospital's waiver
	pay     policy.Payment
}

// setlInfo is the quote's split, with the person and the clearing fields
// a real setlinfo carries (表87). balc is the patient's account balance
// after the quote is booked.
func (c *call) setlInfo(q *quote) protocol.SetlInfo {
	balc := q.patient.Account
	var mulaid money.Fen
	if q.pay.AcctPay > 0 {
		if q.payer == q.patient {
			balc -= q.pay.AcctPay
		} else {
			mulaid = q.pay.AcctPay // a family member's account: 家庭共济
		}
	}
	ins := c.p.rules.Insurance[q.visit.Insutype]
	p := q.person
	info := protocol.SetlInfo{
		MdtrtID: q.visit.MdtrtID, PsnNo: q.visit.PsnNo, PsnName: p.Name, PsnCertType: "01", Certno: p.Certno,
		Gend: p.Gender, Naty: p.Nation, Brdy: p.BirthDate, Age: ageTenths(p.Birth, c.now.In(protocol.CST)),
		Insutype: q.visit.Insutype, PsnType: p.PsnType, CvlservFlag: "0",
		MdtrtCertType: q.query.MdtrtCertType, MedType: q.query.MedType,
		MedfeeSumamt:    protocol.Amount(q.sum.Total),
		FulamtOwnpayAmt: protocol.Amount(q.sum.FullOwnPay),
		OverlmtSelfpay:  protocol.Amount(q.sum.Overlimit),
		PreselfpayAmt:   protocol.Amount(q.sum.PreSelfPay),
		InscpScpAmt:     protocol.Amount(q.sum.Eligible),
		ActPayDedc:      protocol.Amount(q.fund.Consumed.DeductibleUsed),
		HifpPay:         protocol.Amount(q.fund.Pay),
		FundPaySumamt:   protocol.Amount(q.fund.Pay),
		PsnPartAmt:      protocol.Opt(q.pay.AcctPay + q.pay.CashPay),
		AcctPay:         protocol.Amount(q.pay.AcctPay),
		PsnCashPay:      protocol.Amount(q.pay.CashPay),
		HospPartAmt:     protocol.Amount(q.hosp),
		Balc:            protocol.Amount(balc),
		AcctMulaidPay:   protocol.Amount(mulaid),
		ClrOptins:       p.InsuplcAdmdvs, ClrWay: "01", ClrType: "11",
	}
	if q.fund.Pay > 0 {
		info.PoolPropSelfpay = protocol.Ratio((100 - ins.RatioPct) * 100)
	}
	return info
}

// setlDetail is the quote's fund lines: the pooled fund and the hospital's
// part, when not zero.
func setlDetail(insutype string, eligible, deductible, fund, hosp money.Fen) protocol.OneOrMany[protocol.SetlDetail] {
	out := protocol.OneOrMany[protocol.SetlDetail]{}
	if fund != 0 {
		typ, name := protocol.FundTypeEmployeePool, "职工基本医疗保险统筹基金"
		if insutype == protocol.InsutypeResident {
			typ, name = protocol.FundTypeResidentPool, "城乡居民基本医疗保险基金"
		}
		out = append(out, protocol.SetlDetail{FundPayType: typ, FundPayTypeName: name, InscpScpAmt: protocol.Amount(eligible),
			CrtPaybLmtAmt: protocol.Amount(deductible), FundPayamt: protocol.Amount(fund)})
	}
	if hosp != 0 {
		out = append(out, protocol.SetlDetail{FundPayType: protocol.FundTypeHospital, FundPayTypeName: "医院负担", FundPayamt: protocol.Amount(hosp)})
	}
	return out
}

func payResult(p policy.Payment, authNo string) protocol.PayResult {
	return protocol.PayResult{Status: p.Status, Source: p.Source, PayerPsnNo: p.PayerPsnNo, AuthNo: authNo, Reason: p.Reason}
}

// quoteFor computes what settling q's batch would do now. It changes
// nothing.
func (c *call) quoteFor(q protocol.SettleQuery) (*quote, error) {
	var v visit
	found, err := getJSON(c.tx, bucketVisits, []byte(q.MdtrtID), &v)
	if err != nil {
		return nil, err
	}
	if !found || v.Institution != c.inst.Code || v.Cancelled {
		return nil, refuse(protocol.CodeNotFound, "unknown mdtrt_id")
	}
	if q.PsnNo != v.PsnNo {
		return nil, refuse(protocol.CodeBadRequest, "psn_no is not the visit's")
	}
	if q.Insutype != v.Insutype {
		return nil, refuse(protocol.CodeBadRequest, "insutype %q is not the visit's (%s)", q.Insutype, v.Insutype)
	}
	person, _ := c.p.data.ByPsnNo(v.PsnNo)
	if person.PsnInsuStas != "1" {
		return nil, refuse(protocol.CodeNotInsured, "the person's insurance is not active")
	}
	var b batch
	if _, err := getJSON(c.tx, bucketBatches, batchKey(q.MdtrtID, q.ChrgBchno), &b); err != nil {
		return nil, err
	}
	if len(b.Items) == 0 {
		return nil, refuse(protocol.CodeBadRequest, "no fee items uploaded for chrg_bchno %q", q.ChrgBchno)
	}
	if b.SetlID != "" {
		return nil, refuse(protocol.CodeBadRequest, "chrg_bchno %q is already settled (setl_id %s)", q.ChrgBchno, b.SetlID)
	}
	switch q.AcctUsedFlag {
	case "0", "1":
	default:
		return nil, refuse(protocol.CodeBadRequest, "acct_used_flag %q is not 0 or 1", q.AcctUsedFlag)
	}
	qt := &quote{visit: v, batch: b, person: person, query: q, sum: b.sum(), date: dateOf(c.now), year: yearOf(c.now)}
	if got := q.MedfeeSumamt.Fen(); got != qt.sum.Total {
		return nil, refuse(protocol.CodeBadRequest, "medfee_sumamt %s is not the uploaded items' sum %s", got, qt.sum.Total)
	}
	if qt.patient, err = c.person(v.PsnNo); err != nil {
		return nil, err
	}
	if qt.fund, err = c.p.rules.Fund(v.Insutype, qt.sum.Eligible, qt.patient.Years[qt.year]); err != nil {
		return nil, err
	}
	personal := qt.sum.Total - qt.fund.Pay
	qt.hosp = policy.HospitalPart(personal, c.inst.HospitalPartPct)
	selfPay := personal - qt.hosp
	// The personal account pays what it holds of the patient's part when
	// the request lets it (acct_used_flag 1); the rest is the patient's own
	// (psn_cash_pay), which the payment channel takes: the platform debits
	// no bank card and knows nothing of agreements.
	var acct money.Fen
	if q.AcctUsedFlag == "1" && qt.visit.Insutype == protocol.InsutypeEmployee {
		acct = min(qt.patient.Account, selfPay)
	}
	qt.payer = qt.patient
	qt.pay = policy.Payment{Status: protocol.PayPaid, AcctPay: acct, CashPay: selfPay - acct}
	if acct > 0 {
		qt.pay.Source = protocol.SourceAccount
	}
	// Every answer balances; a rule that broke this would be a bug here,
	// never a receipt.
	if qt.sum.Total != qt.fund.Pay+qt.pay.AcctPay+qt.pay.CashPay+qt.hosp {
		return nil, fmt.Errorf("%w: split of %s does not balance: fund %s + account %s + cash %s + hospital %s",
			ErrState, qt.sum.Total, qt.fund.Pay, qt.pay.AcctPay, qt.pay.CashPay, qt.hosp)
	}
	return qt, nil
}

func (c *call) payerOf(p *personas.Person, s *personState) policy.Payer {
	perTxn, daily := p.Agreement.OwnLimits()
	return policy.Payer{
		PsnNo: p.PsnNo, Insutype: p.Insutype, Age: policy.AgeOn(p.Birth, c.now.In(protocol.CST)),
		Sources:        p.Agreement.Sources,
		AccountBalance: s.Account, BankBalance: s.Bank, CreditAvailable: s.Credit,
		OwnLimitPerTxn: perTxn, OwnLimitDaily: daily,
		UsedToday: s.Days[dateOf(c.now)],
	}
}

// 2206: the split and what 2207 would do with the self-pay part, booking
// nothing.
func preSettle(c *call, in *protocol.PreSettleInput) (any, error) {
	qt, err := c.quoteFor(in.Data)
	if err != nil {
		return nil, err
	}
	return protocol.PreSettleOutput{
		Setlinfo:   c.setlInfo(qt),
		Setldetail: setlDetail(qt.visit.Insutype, qt.sum.Eligible, qt.fund.Consumed.DeductibleUsed, qt.fund.Pay, qt.hosp),
		Payplan:    payResult(qt.pay, ""),
	}, nil
}

// 2207: book the split, consume the year's deductible and cap, and debit
// the self-pay part from the source that covers all of it.
func settle(c *call, in *protocol.SettleInput) (any, error) {
	d := in.Data
	qt, err := c.quoteFor(d.SettleQuery)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name      string
		got, want money.Fen
	}{
		{"fulamt_ownpay_amt", d.FulamtOwnpayAmt.Fen(), qt.sum.FullOwnPay},
		{"overlmt_selfpay", d.OverlmtSelfpay.Fen(), qt.sum.Overlimit},
		{"preselfpay_amt", d.PreselfpayAmt.Fen(), qt.sum.PreSelfPay},
		{"inscp_scp_amt", d.InscpScpAmt.Fen(), qt.sum.Eligible},
	} {
		if f.got != f.want {
			return nil, refuse(protocol.CodeBadRequest, "%s %s is not the uploaded items' %s", f.name, f.got, f.want)
		}
	}
	seq, err := c.tx.Bucket(bucketSettlements).NextSequence()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	day := c.now.In(protocol.CST).Format("20060102")
	s := settlement{
		SetlID: fmt.Sprintf("%s%s%010d", c.inst.Region, day, seq), Msgid: c.req.Msgid,
		Institution: c.inst.Code, DevNo: c.req.DevNo, MdtrtID: qt.visit.MdtrtID, ChrgBchno: d.ChrgBchno,
		PsnNo: qt.visit.PsnNo, Insutype: qt.visit.Insutype,
		Time: c.now, Date: qt.date, Year: qt.year,
		Item: qt.sum, Fund: qt.fund.Pay, Consumed: qt.fund.Consumed,
		AcctPay: qt.pay.AcctPay, CashPay: qt.pay.CashPay, HospPart: qt.hosp, Deductible: qt.fund.Consumed.DeductibleUsed,
		Status: qt.pay.Status, Source: qt.pay.Source, PayerPsnNo: qt.pay.PayerPsnNo, Reason: qt.pay.Reason,
	}
	if qt.pay.Debited() {
		s.AuthNo = fmt.Sprintf("AU%s%08d", day, seq)
	}
	info := c.setlInfo(qt)
	qt.patient.Years[qt.year] = qt.patient.Years[qt.year].Add(qt.fund.Consumed)
	if s.AcctPay > 0 {
		if err := debit(qt.patient, protocol.SourceAccount, s.AcctPay); err != nil {
			return nil, err
		}
	}
	if err := c.savePeople(qt.patient, qt.payer); err != nil {
		return nil, err
	}
	qt.batch.SetlID = s.SetlID
	if err := putJSON(c.tx, bucketBatches, batchKey(s.MdtrtID, s.ChrgBchno), &qt.batch); err != nil {
		return nil, err
	}
	if err := putJSON(c.tx, bucketSettlements, []byte(s.SetlID), &s); err != nil {
		return nil, err
	}
	c.setlID = s.SetlID
	info.SetlID, info.MedinsSetlID, info.SetlTime = s.SetlID, c.req.Msgid, protocol.FormatInfTime(c.now)
	return protocol.SettleOutput{
		Setlinfo:   info,
		Setldetail: setlDetail(s.Insutype, s.Eligible, s.Deductible, s.Fund, s.HospPart),
		Payresult:  payResult(qt.pay, s.AuthNo),
	}, nil
}

// debit takes amount from a payer's source. The rules checked the balance;
// a shortfall here means the state changed under the quote, which one
// bbolt transaction rules out, so it is reported as a state error.
func debit(s *personState, source string, amount money.Fen) error {
	bal := s.balance(source)
	if bal == nil {
		return fmt.Errorf("%w: unknown source %q", ErrState, source)
	}
	if *bal < amount {
		return fmt.Errorf("%w: %s of %s holds %s, cannot debit %s", ErrState, source, s.PsnNo, *bal, amount)
	}
	*bal -= amount
	return nil
}

func (s *personState) balance(source string) *money.Fen {
	switch source {
	case protocol.SourceAccount:
		return &s.Account
	case protocol.SourceBank:
		return &s.Bank
	case protocol.SourceCredit:
		return &s.Credit
	}
	return nil
}

// savePeople writes the states given, once each.
func (c *call) savePeople(states ...*personState) error {
	done := map[*personState]bool{}
	for _, s := range states {
		if s == nil || done[s] {
			continue
		}
		done[s] = true
		s.pruneDays(c.now.In(protocol.CST))
		if err := putJSON(c.tx, bucketPeople, []byte(s.PsnNo), s); err != nil {
			return err
		}
	}
	return nil
}

// 2208: cancel a settlement and return every part to where it came from.
// The cancellation is a settlement record of its own (冲红), with its own
// setl_id and the original's amounts negated.
func cancelSettlement(c *call, in *protocol.CancelInput) (any, error) {
	d := in.Data
	s, err := c.settlement(d.SetlID)
	if err != nil {
		return nil, err
	}
	if d.MdtrtID != s.MdtrtID || d.PsnNo != s.PsnNo {
		return nil, refuse(protocol.CodeBadRequest, "mdtrt_id or psn_no is not the settlement's")
	}
	if !s.active() {
		return nil, refuse(protocol.CodeAlreadyRefunded, "settlement %s is already cancelled or reversed", s.SetlID)
	}
	patient, err := c.undo(s)
	if err != nil {
		return nil, err
	}
	seq, err := c.tx.Bucket(bucketSettlements).NextSequence()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	s.Cancelled, s.CancelMsgid, s.CancelTime = true, c.req.Msgid, c.now
	s.CancelSetlID = fmt.Sprintf("%s%s%010d", c.inst.Region, c.now.In(protocol.CST).Format("20060102"), seq)
	if err := putJSON(c.tx, bucketSettlements, []byte(s.SetlID), s); err != nil {
		return nil, err
	}
	c.setlID = s.SetlID
	neg := func(f money.Fen) protocol.Amount { return protocol.Amount(-f) }
	info := protocol.SetlInfo{
		SetlID: s.CancelSetlID, MdtrtID: s.MdtrtID, SetlTime: protocol.FormatInfTime(c.now), ClrOptins: c.clearingRegion(s),
		MedfeeSumamt: neg(s.Total), FulamtOwnpayAmt: neg(s.FullOwnPay), OverlmtSelfpay: neg(s.Overlimit),
		PreselfpayAmt: neg(s.PreSelfPay), InscpScpAmt: neg(s.Eligible), ActPayDedc: neg(s.Deductible),
		HifpPay: neg(s.Fund), FundPaySumamt: neg(s.Fund), AcctPay: neg(s.AcctPay), HospPartAmt: neg(s.HospPart),
		Balc: protocol.Amount(patient.Account), MedinsSetlID: c.req.Msgid,
		// psn_part_amt is left null: real 2208 answers are not known to
		// carry it, and null must read as absent.
	}
	return cancelAnswer{
		Setlinfo:   cancelSetlInfo{SetlInfo: info, PdnCashPay: neg(s.CashPay)},
		Setldetail: setlDetail(s.Insutype, -s.Eligible, -s.Deductible, -s.Fund, -s.HospPart),
		Payresult:  protocol.PayResult{Status: protocol.PayRefunded, Source: s.Source, PayerPsnNo: s.PayerPsnNo, AuthNo: s.AuthNo},
	}, nil
}

// cancelAnswer is 2208's output as the specification's table writes it:
// the cash part named pdn_cash_pay (its misspelling, which every client
// copies and must read).
type cancelAnswer struct {
	Setlinfo   cancelSetlInfo                          `json:"setlinfo"`
	Setldetail protocol.OneOrMany[protocol.SetlDetail] `json:"setldetail"`
	Payresult  protocol.PayResult                      `json:"payresult"` // SANDBOX-ONLY, TEMPORARY
}

type cancelSetlInfo struct {
	protocol.SetlInfo
	PsnCashPay *struct{}       `json:"psn_cash_pay,omitempty"` // hides the embedded one
	PdnCashPay protocol.Amount `json:"pdn_cash_pay"`
}

// clearingRegion is the region a settlement clears under: the insured
// person's.
func (c *call) clearingRegion(s *settlement) string {
	if p, ok := c.p.data.ByPsnNo(s.PsnNo); ok {
		return p.InsuplcAdmdvs
	}
	return c.inst.Region
}

// settlement reads one of the institution's settlements.
func (c *call) settlement(setlID string) (*settlement, error) {
	var s settlement
	found, err := getJSON(c.tx, bucketSettlements, []byte(setlID), &s)
	if err != nil {
		return nil, err
	}
	if !found || s.Institution != c.inst.Code {
		return nil, refuse(protocol.CodeNotFound, "unknown setl_id")
	}
	return &s, nil
}

// undo returns a settlement's effects: the year's consumption, the debit
// (to the source it came from), the payer's daily usage when undone on
// the settlement's own day, and the batch's settled mark. It returns the
// patient's state as written.
func (c *call) undo(s *settlement) (*personState, error) {
	patient, err := c.person(s.PsnNo)
	if err != nil {
		return nil, err
	}
	patient.Years[s.Year] = patient.Years[s.Year].Add(s.Consumed.Neg())
	patient.Account += s.AcctPay // the cash part is the payment channel's to return
	if err := c.savePeople(patient); err != nil {
		return nil, err
	}
	return patient, c.markBatch(s, "")
}

// markBatch sets the batch's active settlement (or clears it).
func (c *call) markBatch(s *settlement, setlID string) error {
	var b batch
	if _, err := getJSON(c.tx, bucketBatches, batchKey(s.MdtrtID, s.ChrgBchno), &b); err != nil {
		return err
	}
	if setlID != "" && b.SetlID != "" && b.SetlID != setlID {
		return refuse(protocol.CodeBadRequest, "chrg_bchno %q was settled again (setl_id %s)", s.ChrgBchno, b.SetlID)
	}
	if setlID == "" && b.SetlID != s.SetlID {
		return nil
	}
	b.SetlID = setlID
	return putJSON(c.tx, bucketBatches, batchKey(s.MdtrtID, s.ChrgBchno), &b)
}
