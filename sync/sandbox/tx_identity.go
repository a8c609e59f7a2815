package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

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
		found, err := c.byECToken(q.MdtrtCertNo)
		if err == nil && found == nil {
			found, err = c.byCode(q.MdtrtCertNo, q.Begntime)
		}
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
			Gend: p.Gender, Naty: p.Nation, Brdy: p.BirthDate, Age: ageTenths(p.Birth, c.now.In(protocol.CST)),
		},
		Insuinfo: []protocol.InsuInfo{{
			Insutype: p.Insutype, PsnType: p.PsnType, Balc: protocol.Amount(balc),
			InsuplcAdmdvs: p.InsuplcAdmdvs, PsnInsuStas: p.PsnInsuStas, CvlservFlag: "0",
		}},
		Idetinfo: protocol.OneOrMany[protocol.IdetInfo]{},
		Payinfo:  c.payInfo(p),
	}, nil
}

// ageTenths is the age as 1101 gives it, in tenths of a year (36.8): the
// whole years and the tenths of the current year of life, rounded down.
func ageTenths(birth, on time.Time) protocol.Age {
	years := policy.AgeOn(birth, on)
	last := time.Date(birth.Year()+years, birth.Month(), birth.Day(), 0, 0, 0, 0, on.Location())
	next := last.AddDate(1, 0, 0)
	day := time.Date(on.Year(), on.Month(), on.Day(), 0, 0, 0, 0, on.Location())
	tenths := int(day.Sub(last).Hours()/24) * 10 / int(next.Sub(last).Hours()/24)
	return protocol.Age(years*10 + min(max(tenths, 0), 9))
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
	info.LimitPerTxn, info.LimitDaily = protocol.Amount(perTxn), protocol.Amount(daily)
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
