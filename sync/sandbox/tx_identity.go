package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

// 9001: a new session for the institution.
func signIn(c *call, in *protocol.SignInInput) (any, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("sign_no: %w", err)
	}
	signNo := hex.EncodeToString(b[:])
	s := session{Institution: c.inst.Code, Opter: in.SignIn.OpterNo, Expires: c.now.Add(c.p.ttl)}
	if err := putJSON(c.tx, bucketSessions, []byte(signNo), &s); err != nil {
		return nil, err
	}
	return protocol.SignInOutput{Signinoutb: protocol.SignInResult{SignNo: signNo, SignTime: protocol.FormatInfTime(c.now)}}, nil
}

// 1101: who the patient is, by ID number, social-security card or
// credential code.
// Refusals never echo the number or name asked about: an agent logs
// err_msg.
func personInfo(c *call, in *protocol.PersonInfoInput) (any, error) {
	q := in.Data
	var p *personas.Person
	switch q.MdtrtCertType {
	case protocol.CertIDNo:
		found, ok := c.p.data.ByCertNo(q.MdtrtCertNo)
		if !ok || (q.PsnName != "" && q.PsnName != found.Name) {
			return nil, refuse(protocol.CodeNotFound, "no insured person with this ID number and name")
		}
		p = found
	case protocol.CertSSCard:
		found, ok := c.p.data.ByCardNo(q.MdtrtCertNo)
		if !ok || q.CardSn != found.Card.CardSn {
			return nil, refuse(protocol.CodeNotFound, "no social-security card with this card number and card identifier")
		}
		switch {
		case found.Card.Status == personas.CardBlocked:
			return nil, refuse(protocol.CodeCardInvalid, "card is blocked (reported lost); identify the patient another way")
		case found.Card.Expired(c.now):
			return nil, refuse(protocol.CodeCardInvalid, "card expired on %s; identify the patient another way", found.Card.ExpiryDate)
		}
		p = found
	case protocol.CertQR:
		found, err := c.byCode(q.MdtrtCertNo, q.Begntime)
		if err != nil {
			return nil, err
		}
		p = found
	default:
		return nil, refuse(protocol.CodeBadRequest, "mdtrt_cert_type %q is not 01, 02 or 03", q.MdtrtCertType)
	}
	if q.Certno != "" && q.Certno != p.Certno {
		return nil, refuse(protocol.CodeNotFound, "certno does not match the credential")
	}
	st, err := c.person(p.PsnNo)
	if err != nil {
		return nil, err
	}
	balc := money.Fen(0)
	if c.p.rules.Insurance[p.Insutype].PersonalAccount {
		balc = st.Account
	}
	return protocol.PersonInfoOutput{
		Baseinfo: protocol.BaseInfo{
			PsnNo: p.PsnNo, PsnCertType: "01", Certno: p.Certno, PsnName: p.Name,
			Gend: p.Gender, Brdy: p.BirthDate, Age: policy.AgeOn(p.Birth, c.now.In(protocol.CST)),
		},
		Insuinfo: []protocol.InsuInfo{{
			Insutype: p.Insutype, PsnType: p.PsnType, Balc: money.Decimal(balc),
			InsuplcAdmdvs: p.InsuplcAdmdvs, PsnInsuStas: p.PsnInsuStas,
		}},
		Payinfo: c.payInfo(p),
	}, nil
}

// payInfo tells the agent what a settlement of p could do with the
// self-pay part today.
func (c *call) payInfo(p *personas.Person) protocol.PayInfo {
	cov, payer, link := c.coverage(p)
	info := protocol.PayInfo{
		Agreement:       p.Agreement != nil,
		ConfirmRequired: cov == policy.CoverFamilyConfirm,
		Sources:         []protocol.PaySource{},
	}
	if cov == policy.CoverFamily || cov == policy.CoverFamilyConfirm {
		info.FamilyOf = &protocol.FamilyLink{SignerPsnNo: link.Signer, Relation: link.Relation, Mode: link.Mode}
	}
	perTxn, daily := c.p.rules.LimitPerTxn, c.p.rules.LimitDaily
	if payer != nil {
		perTxn, daily = c.p.rules.Limits(policy.Payer{OwnLimitPerTxn: payer.Agreement.LimitPerTxn.Fen(), OwnLimitDaily: payer.Agreement.LimitDaily.Fen()})
		for _, src := range payer.Agreement.Sources {
			if label, usable := c.sourceLabel(payer, src); usable {
				info.Sources = append(info.Sources, protocol.PaySource{Kind: src, Label: label})
			}
		}
	}
	info.LimitPerTxn, info.LimitDaily = money.Decimal(perTxn), money.Decimal(daily)
	return info
}

// sourceLabel is a source as a patient may see it: the bank and the last
// digits of a card, never a full number. A personal account is unusable
// on insurance types that have none.
func (c *call) sourceLabel(payer *personas.Person, src string) (string, bool) {
	a := payer.Agreement
	switch src {
	case protocol.SourceAccount:
		return "personal account", c.p.rules.Insurance[payer.Insutype].PersonalAccount
	case protocol.SourceBank:
		return a.BankCard.Bank + " ****" + a.BankCard.Last4, true
	case protocol.SourceCredit:
		return a.CreditLine.Bank + " credit line", true
	}
	return "", false
}

// coverage resolves who pays for p, on the platform's date: the coverage,
// the paying person (nil when nobody) and the family link used.
func (c *call) coverage(p *personas.Person) (policy.Coverage, *personas.Person, *personas.FamilyLink) {
	age := policy.AgeOn(p.Birth, c.now.In(protocol.CST))
	var link *policy.Link
	fl, linked := c.p.data.CoveredBy(p.PsnNo)
	if linked {
		link = &policy.Link{Relation: fl.Relation, Mode: fl.Mode}
	}
	cov := policy.ResolveCoverage(age, p.Agreement != nil, link)
	switch cov {
	case policy.CoverOwn:
		return cov, p, nil
	case policy.CoverFamily, policy.CoverFamilyConfirm:
		signer, _ := c.p.data.ByPsnNo(fl.Signer)
		return cov, signer, &fl
	}
	return cov, nil, nil
}

// 2201: an outpatient visit of an insured person.
func register(c *call, in *protocol.RegisterInput) (any, error) {
	d := in.Data
	p, ok := c.p.data.ByPsnNo(d.PsnNo)
	if !ok {
		return nil, refuse(protocol.CodeNotFound, "unknown psn_no")
	}
	if p.PsnInsuStas != "1" {
		return nil, refuse(protocol.CodeNotInsured, "the person's insurance is not active (psn_insu_stas %s)", p.PsnInsuStas)
	}
	if d.Insutype != p.Insutype {
		return nil, refuse(protocol.CodeBadRequest, "insutype %q is not the person's (%s)", d.Insutype, p.Insutype)
	}
	if err := checkCert(p, d.MdtrtCertType, d.MdtrtCertNo); err != nil {
		return nil, err
	}
	seq, err := c.tx.Bucket(bucketVisits).NextSequence()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	v := visit{
		MdtrtID: fmt.Sprintf("%s%s%010d", c.inst.Region, c.now.In(protocol.CST).Format("20060102"), seq),
		PsnNo:   p.PsnNo, Insutype: p.Insutype, Institution: c.inst.Code,
		Begntime: d.Begntime, IptOtpNo: d.IptOtpNo, Created: c.now,
	}
	if err := putJSON(c.tx, bucketVisits, []byte(v.MdtrtID), &v); err != nil {
		return nil, err
	}
	return protocol.RegisterOutput{Data: protocol.RegisterResult{MdtrtID: v.MdtrtID, PsnNo: v.PsnNo, IptOtpNo: v.IptOtpNo}}, nil
}

// checkCert refuses a credential that names someone else. An empty one is
// accepted: the visit is tied to psn_no.
func checkCert(p *personas.Person, certType, certNo string) error {
	if certNo == "" {
		return nil
	}
	switch certType {
	case protocol.CertIDNo:
		if certNo == p.Certno {
			return nil
		}
	case protocol.CertSSCard:
		if p.Card != nil && certNo == p.Card.CardNo {
			return nil
		}
	default:
		return nil // opaque credentials cannot be compared here
	}
	return refuse(protocol.CodeBadRequest, "mdtrt_cert_no does not belong to psn_no")
}

// 2204: fee items, checked all before any is stored, split by class.
func uploadFees(c *call, in *protocol.UploadFeesInput) (any, error) {
	if len(in.Feedetail) == 0 {
		return nil, refuse(protocol.CodeBadRequest, "no fee items")
	}
	batches := map[string]*batch{}
	var order []string
	seen := map[string]bool{}
	out := protocol.UploadFeesOutput{Result: make([]protocol.FeeResult, 0, len(in.Feedetail))}
	for i, f := range in.Feedetail {
		item, err := c.checkFee(i, f, seen)
		if err != nil {
			return nil, err
		}
		key := string(batchKey(f.MdtrtID, f.ChrgBchno))
		b, ok := batches[key]
		if !ok {
			b = &batch{MdtrtID: f.MdtrtID, ChrgBchno: f.ChrgBchno}
			if _, err := getJSON(c.tx, bucketBatches, []byte(key), b); err != nil {
				return nil, err
			}
			if b.SetlID != "" {
				return nil, refuse(protocol.CodeBadRequest, "batch %s is already settled (setl_id %s); cancel it first", f.ChrgBchno, b.SetlID)
			}
			batches[key] = b
			order = append(order, key)
		}
		b.put(item)
		out.Result = append(out.Result, protocol.FeeResult{
			FeedetlSn: f.FeedetlSn, DetItemFeeSumamt: money.Decimal(item.Total),
			FulamtOwnpayAmt: money.Decimal(item.FullOwnPay), PreselfpayAmt: money.Decimal(item.PreSelfPay),
			InscpScpAmt: money.Decimal(item.Eligible), ChrgitmLv: item.Class,
		})
	}
	for _, key := range order {
		if err := putJSON(c.tx, bucketBatches, []byte(key), batches[key]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkFee validates one item: its visit, its person, amount = cnt × pric
// to the fen, and a known class.
func (c *call) checkFee(i int, f protocol.FeeDetail, seen map[string]bool) (feeItem, error) {
	bad := func(format string, args ...any) error {
		return refuse(protocol.CodeBadRequest, "fee item %d (%s): %s", i+1, f.FeedetlSn, fmt.Sprintf(format, args...))
	}
	switch {
	case f.FeedetlSn == "":
		return feeItem{}, bad("no feedetl_sn")
	case seen[f.MdtrtID+"\x00"+f.FeedetlSn]:
		return feeItem{}, bad("feedetl_sn listed twice")
	case f.ChrgBchno == "":
		return feeItem{}, bad("no chrg_bchno")
	}
	seen[f.MdtrtID+"\x00"+f.FeedetlSn] = true
	var v visit
	found, err := getJSON(c.tx, bucketVisits, []byte(f.MdtrtID), &v)
	if err != nil {
		return feeItem{}, err
	}
	if !found || v.Institution != c.inst.Code {
		return feeItem{}, refuse(protocol.CodeNotFound, "fee item %d (%s): unknown mdtrt_id", i+1, f.FeedetlSn)
	}
	if f.PsnNo != v.PsnNo {
		return feeItem{}, bad("psn_no is not the visit's")
	}
	pric, total := f.Pric.Fen(), f.DetItemFeeSumamt.Fen()
	if f.Cnt <= 0 || pric <= 0 {
		return feeItem{}, bad("cnt and pric must be positive")
	}
	if f.Cnt > int64(money.Max/pric) {
		return feeItem{}, bad("cnt × pric is over the largest amount")
	}
	if money.Fen(f.Cnt)*pric != total {
		return feeItem{}, bad("det_item_fee_sumamt %s is not cnt %d × pric %s = %s", total, f.Cnt, pric, money.Fen(f.Cnt)*pric)
	}
	split, err := c.p.rules.SplitItem(f.ChrgitmLv, total)
	if err != nil {
		return feeItem{}, bad("%v", err)
	}
	return feeItem{FeedetlSn: f.FeedetlSn, MedListCodg: f.MedListCodg, Class: f.ChrgitmLv, Cnt: f.Cnt, Pric: pric, Item: split}, nil
}

// put adds an item, replacing an earlier upload of the same feedetl_sn.
func (b *batch) put(it feeItem) {
	for i := range b.Items {
		if b.Items[i].FeedetlSn == it.FeedetlSn {
			b.Items[i] = it
			return
		}
	}
	b.Items = append(b.Items, it)
}

// person reads a person's mutable state.
func (c *call) person(psnNo string) (*personState, error) {
	var s personState
	found, err := getJSON(c.tx, bucketPeople, []byte(psnNo), &s)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: no state for person %s", ErrState, psnNo)
	}
	if s.Years == nil {
		s.Years = map[string]policy.YearUsage{}
	}
	if s.Days == nil {
		s.Days = map[string]money.Fen{}
	}
	return &s, nil
}
