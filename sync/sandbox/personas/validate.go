package personas

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

// cardAppID is the SSSE application identifier every card identifier
// carries after its 6-digit region.
const cardAppID = "D156000005"

// validate checks the whole data set and builds its indexes. The first
// problem found is returned, naming the person (by key) and the field.
func (d *Dataset) validate() error {
	if err := d.validatePlatform(); err != nil {
		return err
	}
	d.byKey, d.byPsnNo, d.byCertNo, d.byCardNo = map[string]*Person{}, map[string]*Person{}, map[string]*Person{}, map[string]*Person{}
	d.coveredBy = map[string]FamilyLink{}
	if len(d.People) == 0 {
		return fmt.Errorf("%w: no people", ErrInvalid)
	}
	for i := range d.People {
		p := &d.People[i]
		if err := d.validatePerson(p); err != nil {
			key := p.Key
			if key == "" {
				key = fmt.Sprintf("#%d", i+1)
			}
			return fmt.Errorf("%w: person %s: %w", ErrInvalid, key, err)
		}
		d.byKey[p.Key], d.byPsnNo[p.PsnNo], d.byCertNo[p.Certno] = p, p, p
		if p.Card != nil {
			d.byCardNo[p.Card.CardNo] = p
		}
	}
	for i := range d.People {
		if err := d.indexFamily(&d.People[i]); err != nil {
			return fmt.Errorf("%w: person %s: %w", ErrInvalid, d.People[i].Key, err)
		}
	}
	return nil
}

func (d *Dataset) validatePlatform() error {
	if !digits(d.Platform.Region, 6) {
		return fmt.Errorf("%w: platform.region %q is not 6 digits", ErrInvalid, d.Platform.Region)
	}
	if ps := d.Platform.PSAM; ps != nil {
		if err := d.needs(2, "platform.psam"); err != nil {
			return err
		}
		if key, err := hex.DecodeString(ps.MasterKey); err != nil || len(key) != 16 {
			return fmt.Errorf("%w: platform.psam.master_key is not 32 hex digits", ErrInvalid)
		}
		if ps.KeyID < 1 || ps.KeyID > 255 {
			return fmt.Errorf("%w: platform.psam.key_id %d is not 1 to 255", ErrInvalid, ps.KeyID)
		}
	}
	if err := d.Rules().Validate(); err != nil {
		return fmt.Errorf("%w: policy: %v", ErrInvalid, err)
	}
	d.institutions = map[string]*Institution{}
	if len(d.Institutions) == 0 {
		return fmt.Errorf("%w: no institutions", ErrInvalid)
	}
	for i := range d.Institutions {
		in := &d.Institutions[i]
		switch {
		case len(in.Code) != 12 || !alnum(in.Code):
			return fmt.Errorf("%w: institution code %q is not 12 letters or digits", ErrInvalid, in.Code)
		case !digits(in.Region, 6):
			return fmt.Errorf("%w: institution %s: region %q is not 6 digits", ErrInvalid, in.Code, in.Region)
		case in.Name == "":
			return fmt.Errorf("%w: institution %s: no name", ErrInvalid, in.Code)
		case in.HospitalPartPct < 0 || in.HospitalPartPct > 100:
			return fmt.Errorf("%w: institution %s: hospital_part_pct %d is not within 0-100", ErrInvalid, in.Code, in.HospitalPartPct)
		case d.institutions[in.Code] != nil:
			return fmt.Errorf("%w: institution %s listed twice", ErrInvalid, in.Code)
		}
		d.institutions[in.Code] = in
	}
	return nil
}

func (d *Dataset) validatePerson(p *Person) error {
	switch {
	case p.Key == "":
		return errors.New("no key")
	case d.byKey[p.Key] != nil:
		return errors.New("key used twice")
	case p.PsnNo == "" || !digits(p.PsnNo, len(p.PsnNo)):
		return fmt.Errorf("psn_no %q is not digits", p.PsnNo)
	case d.byPsnNo[p.PsnNo] != nil:
		return fmt.Errorf("psn_no %s used twice", p.PsnNo)
	case p.Name == "":
		return errors.New("no name")
	}
	if err := idno.Check(p.Certno); err != nil {
		return fmt.Errorf("certno: %w", err)
	}
	if d.byCertNo[p.Certno] != nil {
		return errors.New("certno used twice")
	}
	birth, err := time.ParseInLocation(protocol.DateLayout, p.BirthDate, protocol.CST)
	if err != nil {
		return fmt.Errorf("birth_date %q is not a date", p.BirthDate)
	}
	if p.Certno[6:14] != birth.Format("20060102") {
		return errors.New("birth_date does not match the ID number")
	}
	p.Birth = birth
	// The 17th character of an ID number is odd for men, even for women.
	male := (p.Certno[16]-'0')%2 == 1
	if (p.Gender == "1") != male || (p.Gender != "1" && p.Gender != "2") {
		return fmt.Errorf("gender %q does not match the ID number", p.Gender)
	}
	ins, ok := d.Policy.Insurance[p.Insutype]
	switch {
	case !ok:
		return fmt.Errorf("insutype %q has no policy", p.Insutype)
	case !digits(p.InsuplcAdmdvs, 6):
		return fmt.Errorf("insuplc_admdvs %q is not 6 digits", p.InsuplcAdmdvs)
	case p.PsnInsuStas != "0" && p.PsnInsuStas != "1":
		return fmt.Errorf("psn_insu_stas %q is not 0 or 1", p.PsnInsuStas)
	case p.AccountBalance < 0:
		return errors.New("negative account_balance")
	case !ins.PersonalAccount && p.AccountBalance != 0:
		return fmt.Errorf("insurance %s has no personal account, yet account_balance is %s", p.Insutype, p.AccountBalance.Fen())
	}
	if u := p.YearUsage; u != nil && (u.DeductibleUsed < 0 || u.FundPaid < 0) {
		return errors.New("negative year_usage")
	}
	if a := p.Agreement; a != nil {
		if err := validateAgreement(a); err != nil {
			return fmt.Errorf("agreement: %w", err)
		}
	}
	if c := p.Card; c != nil {
		if err := d.validateCard(c); err != nil {
			return fmt.Errorf("card: %w", err)
		}
	}
	if p.Nation != "" && !digits(p.Nation, 2) {
		return fmt.Errorf("nation %q is not 2 digits", p.Nation)
	}
	if p.Birthplace != "" {
		if err := d.needs(2, "birthplace"); err != nil {
			return err
		}
		if !digits(p.Birthplace, 6) {
			return fmt.Errorf("birthplace %q is not 6 digits", p.Birthplace)
		}
	}
	if ph := p.Phone; ph != nil {
		if err := d.needs(2, "phone"); err != nil {
			return err
		}
		if err := validatePhone(ph); err != nil {
			return fmt.Errorf("phone: %w", err)
		}
	}
	return nil
}

// needs refuses a field that a file of an older version cannot have.
func (d *Dataset) needs(version int, field string) error {
	if d.Version < version {
		return fmt.Errorf("%w: %s needs version %d, the file is version %d", ErrInvalid, field, version, d.Version)
	}
	return nil
}

func validatePhone(ph *Phone) error {
	if ph.Opaque {
		if ph.Alg != "" || ph.Issuer != "" || ph.Revoked {
			return errors.New("an opaque phone has no alg, issuer or revocation: the platform issued it no certificate")
		}
		return nil
	}
	switch {
	case ph.Alg != AlgEd25519 && ph.Alg != AlgSM2:
		return fmt.Errorf("alg %q is not %s or %s", ph.Alg, AlgEd25519, AlgSM2)
	case ph.Issuer != "" && ph.Issuer != IssuerCurrent && ph.Issuer != IssuerPrevious:
		return fmt.Errorf("issuer %q is not %s or %s", ph.Issuer, IssuerCurrent, IssuerPrevious)
	}
	return nil
}

// PSAMKey returns the test PSAM's master key and key id; ok is false for a
// data set without one (version 1).
func (d *Dataset) PSAMKey() (master []byte, keyID byte, ok bool) {
	ps := d.Platform.PSAM
	if ps == nil {
		return nil, 0, false
	}
	key, err := hex.DecodeString(ps.MasterKey)
	if err != nil {
		return nil, 0, false // validated at load; unreachable
	}
	return key, byte(ps.KeyID), true
}

func validateAgreement(a *Agreement) error {
	if len(a.Sources) == 0 {
		return errors.New("no sources")
	}
	for i, s := range a.Sources {
		if slices.Contains(a.Sources[:i], s) {
			return fmt.Errorf("source %s listed twice", s)
		}
		switch s {
		case protocol.SourceAccount:
		case protocol.SourceBank:
			if a.BankCard == nil {
				return errors.New("bank_card source without a bank_card")
			}
		case protocol.SourceCredit:
			if a.CreditLine == nil {
				return errors.New("credit_line source without a credit_line")
			}
		default:
			return fmt.Errorf("unknown source %q", s)
		}
	}
	if b := a.BankCard; b != nil && (b.Balance < 0 || !digits(b.Last4, 4) || b.Bank == "") {
		return errors.New("bank_card needs a bank, 4 last digits and a non-negative balance")
	}
	if c := a.CreditLine; c != nil && (c.Available < 0 || c.Available > c.Limit || c.Bank == "" || c.InterestFreeDays <= 0) {
		return errors.New("credit_line needs a bank, interest-free days and 0 <= available <= limit")
	}
	if a.LimitPerTxn < 0 || a.LimitDaily < 0 {
		return errors.New("negative own limit")
	}
	return nil
}

func (d *Dataset) validateCard(c *Card) error {
	switch {
	case len(c.CardNo) != 9 || !alnum(c.CardNo):
		return fmt.Errorf("card_no %q is not 9 letters or digits", c.CardNo)
	case d.byCardNo[c.CardNo] != nil:
		return fmt.Errorf("card_no %s used twice", c.CardNo)
	case len(c.CardSn) != 32 || !upperHex(c.CardSn) || !digits(c.CardSn[:6], 6) || c.CardSn[6:16] != cardAppID:
		return fmt.Errorf("card_sn %q is not region(6) + %s + 16 upper-case hex digits", c.CardSn, cardAppID)
	case c.Version != "1.00" && c.Version != "2.00" && c.Version != "3.00":
		return fmt.Errorf("version %q is not 1.00, 2.00 or 3.00", c.Version)
	case c.Status != CardNormal && c.Status != CardBlocked:
		return fmt.Errorf("status %q is not normal or blocked", c.Status)
	}
	for _, p := range d.byCardNo {
		if p.Card.CardSn == c.CardSn {
			return fmt.Errorf("card_sn %s used twice", c.CardSn)
		}
	}
	issue, err1 := time.Parse(protocol.DateLayout, c.IssueDate)
	expiry, err2 := time.Parse(protocol.DateLayout, c.ExpiryDate)
	if err1 != nil || err2 != nil || !issue.Before(expiry) {
		return fmt.Errorf("issue_date %q and expiry_date %q are not two dates in order", c.IssueDate, c.ExpiryDate)
	}
	return nil
}

// indexFamily checks p's family links once every person is known.
func (d *Dataset) indexFamily(p *Person) error {
	if len(p.Family) > 0 && p.Agreement == nil {
		return errors.New("signs for family members without an agreement of their own")
	}
	for _, l := range p.Family {
		m, ok := d.byPsnNo[l.Member]
		switch {
		case !ok:
			return fmt.Errorf("family member %s is not a person of the data set", l.Member)
		case m == p:
			return errors.New("signs for themselves")
		case !policy.ValidRelation(l.Relation):
			return fmt.Errorf("family relation %q is not spouse, parent or child", l.Relation)
		case l.Mode != protocol.FamilyFrictionless && l.Mode != protocol.FamilyConfirmFirst:
			return fmt.Errorf("family mode %q is not %s or %s", l.Mode, protocol.FamilyFrictionless, protocol.FamilyConfirmFirst)
		}
		if prev, ok := d.coveredBy[l.Member]; ok {
			return fmt.Errorf("family member %s is already covered by %s", m.Key, d.byPsnNo[prev.Signer].Key)
		}
		l.Signer = p.PsnNo
		d.coveredBy[l.Member] = l
	}
	return nil
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func alnum(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z')
	}) < 0
}

func upperHex(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') }) < 0
}

// Fen helpers for callers that do arithmetic on the file's amounts.

// UsageFen returns the seeded year usage in fen.
func (p *Person) UsageFen() policy.YearUsage {
	if p.YearUsage == nil {
		return policy.YearUsage{}
	}
	return policy.YearUsage{DeductibleUsed: p.YearUsage.DeductibleUsed.Fen(), FundPaid: p.YearUsage.FundPaid.Fen()}
}

// OwnLimits returns the person's own password-free limits (zero: none).
func (a *Agreement) OwnLimits() (perTxn, daily money.Fen) {
	return a.LimitPerTxn.Fen(), a.LimitDaily.Fen()
}
