// Package personas is the sandbox platform's demo data set: the
// institutions it serves, its policy numbers, and the insured people with
// their balances, agreements, family links and social-security cards. Each
// person exercises one payment rule and is known by a short key
// ("acct-first", "family-confirm", ...), so tests and demos say which rule
// they mean.
//
// The file format is versioned and decoded strictly: an unknown field is a
// typo, not an extension. Version 2 added the platform's test PSAM key,
// birthplaces and the patients' phones (QR credentials); version 1 files
// are still read, and may not use those fields.
package personas

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

// Version is the newest file format this code reads.
const Version = 2

//go:embed personas.json
var defaultData []byte

// Default returns the data set shipped with the sandbox.
func Default() (*Dataset, error) {
	d, err := Parse(defaultData)
	if err != nil {
		return nil, fmt.Errorf("built-in personas: %w", err)
	}
	return d, nil
}

// Load reads and validates a data set file.
func Load(path string) (*Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	d, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Dataset is one persona file.
type Dataset struct {
	Version      int           `json:"version"`
	Platform     Platform      `json:"platform"`
	Policy       Policy        `json:"policy"`
	Institutions []Institution `json:"institutions"`
	People       []Person      `json:"people"`

	byKey, byPsnNo, byCertNo, byCardNo map[string]*Person
	coveredBy                          map[string]FamilyLink // member psn_no → link, Signer filled in
	institutions                       map[string]*Institution
}

// Platform describes the platform itself.
type Platform struct {
	Name   string `json:"name"`
	Region string `json:"region"` // receiver region of inf_refmsgid
	// PSAM is the hospital's secure module that the sandbox's 3.0 cards
	// are issued for (version 2).
	PSAM *PSAM `json:"psam,omitempty"`
}

// PSAM is the master key that 3.0 cards' external-authentication keys are
// diversified from (package devices/psam), and the key id that names it.
// It is a test key published with the sandbox: no real card or PSAM holds
// it.
type PSAM struct {
	About     string `json:"about"`
	MasterKey string `json:"master_key"` // 32 hex digits
	KeyID     int    `json:"key_id"`     // 1 to 255, P2 of EXTERNAL AUTHENTICATE
}

// Policy is the file form of policy.Rules.
type Policy struct {
	Insurance        map[string]InsurancePolicy `json:"insurance"`
	ClassBSelfPayPct int64                      `json:"class_b_selfpay_pct"`
	LimitPerTxn      money.Decimal              `json:"limit_per_txn"`
	LimitDaily       money.Decimal              `json:"limit_daily"`
	CreditMinAge     int                        `json:"credit_min_age"`
	CreditMaxAge     int                        `json:"credit_max_age"`
}

// InsurancePolicy is one insurance type's outpatient fund rule.
type InsurancePolicy struct {
	Name            string        `json:"name"`
	Deductible      money.Decimal `json:"deductible"`
	RatioPct        int64         `json:"ratio_pct"`
	YearCap         money.Decimal `json:"year_cap"`
	PersonalAccount bool          `json:"personal_account"`
}

// Institution is a designated medical institution the platform serves.
type Institution struct {
	Code   string `json:"code"` // fixmedins_code, 12 characters
	Name   string `json:"name"`
	Region string `json:"region"` // 6 digits
	// HospitalPartPct is the share of each bill's personal part the
	// hospital bears (hosp_part_amt, a waiver), in percent; 0 for none.
	HospitalPartPct int64 `json:"hospital_part_pct,omitempty"`
}

// Person is one insured person as seeded into the platform.
type Person struct {
	Key            string        `json:"key"`
	About          string        `json:"about"`
	PsnNo          string        `json:"psn_no"`
	Certno         string        `json:"certno"` // resident ID number
	Name           string        `json:"name"`
	Gender         string        `json:"gender"` // 1 male, 2 female
	BirthDate      string        `json:"birth_date"`
	Nation         string        `json:"nation"`               // ethnicity, GB 3304, 2 digits
	Birthplace     string        `json:"birthplace,omitempty"` // region, 6 digits (version 2)
	Insutype       string        `json:"insutype"`
	PsnType        string        `json:"psn_type"`
	InsuplcAdmdvs  string        `json:"insuplc_admdvs"`
	PsnInsuStas    string        `json:"psn_insu_stas"` // "1" active
	AccountBalance money.Decimal `json:"account_balance"`
	YearUsage      *Usage        `json:"year_usage,omitempty"` // of the seeding year
	Agreement      *Agreement    `json:"agreement,omitempty"`
	Family         []FamilyLink  `json:"family,omitempty"` // people this person signs for
	Card           *Card         `json:"card,omitempty"`
	Phone          *Phone        `json:"phone,omitempty"` // version 2
	Birth          time.Time     `json:"-"`
}

// Phone is the patient's phone showing the insurance QR code. The sandbox
// issues it a certificate (package devices/credential) under one of its
// issuer keys, unless it is Opaque: a national-style app whose codes only
// the platform can resolve.
type Phone struct {
	Opaque bool `json:"opaque,omitempty"`
	// Alg is "ed25519" or "sm2-sm3", for the phone's key and the issuer
	// key that certifies it.
	Alg string `json:"alg,omitempty"`
	// Issuer is which of the algorithm's issuer keys signed the
	// certificate: "current" (default) or "previous", the key rotated out
	// whose certificates are still valid.
	Issuer string `json:"issuer,omitempty"`
	// Revoked puts the certificate's serial on the trust list's
	// revocation list (a phone reported lost).
	Revoked bool `json:"revoked,omitempty"`
}

// Phone kinds and issuer roles.
const (
	AlgEd25519     = "ed25519"
	AlgSM2         = "sm2-sm3"
	IssuerCurrent  = "current"
	IssuerPrevious = "previous"
)

// IssuerRole is the phone's issuer role, with the default filled in.
func (ph *Phone) IssuerRole() string {
	if ph.Issuer == "" {
		return IssuerCurrent
	}
	return ph.Issuer
}

// Usage is a person's consumption of one year's deductible and fund cap.
type Usage struct {
	DeductibleUsed money.Decimal `json:"deductible_used"`
	FundPaid       money.Decimal `json:"fund_paid"`
}

// Agreement is a signed treat-first-pay-later agreement.
type Agreement struct {
	Sources    []string    `json:"sources"` // priority order
	BankCard   *BankCard   `json:"bank_card,omitempty"`
	CreditLine *CreditLine `json:"credit_line,omitempty"`
	// LimitPerTxn and LimitDaily are the person's own lower password-free
	// limits; absent means the platform's.
	LimitPerTxn money.Decimal `json:"limit_per_txn,omitempty"`
	LimitDaily  money.Decimal `json:"limit_daily,omitempty"`
}

// BankCard is a card bound for password-free debit.
type BankCard struct {
	Bank    string        `json:"bank"`
	Last4   string        `json:"last4"`
	Balance money.Decimal `json:"balance"`
}

// CreditLine is a bank's medical credit line.
type CreditLine struct {
	Bank             string        `json:"bank"`
	Limit            money.Decimal `json:"limit"`
	Available        money.Decimal `json:"available"`
	InterestFreeDays int           `json:"interest_free_days"`
}

// FamilyLink is a family-pay link: the signer pays for Member.
type FamilyLink struct {
	Member   string `json:"member"`   // psn_no
	Relation string `json:"relation"` // the member's relation to the signer
	Mode     string `json:"mode"`
	Signer   string `json:"-"` // psn_no, filled in when indexing
}

// Card is a social-security card.
type Card struct {
	CardNo     string `json:"card_no"` // 9 characters
	CardSn     string `json:"card_sn"` // card identifier, 32 hex
	Version    string `json:"version"` // specification version 1.00, 2.00, 3.00
	IssueDate  string `json:"issue_date"`
	ExpiryDate string `json:"expiry_date"`
	Status     string `json:"status"` // normal, blocked
}

// Card statuses.
const (
	CardNormal  = "normal"
	CardBlocked = "blocked"
)

// Parse decodes and validates a data set.
func Parse(data []byte) (*Dataset, error) {
	var probe struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch {
	case probe.Version > Version:
		return nil, fmt.Errorf("%w: version %d is newer than this sandbox reads (%d)", ErrVersion, probe.Version, Version)
	case probe.Version < 1:
		return nil, fmt.Errorf("%w: no version", ErrVersion)
	}
	var d Dataset
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON value", ErrInvalid)
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Marshal encodes the data set in its file form.
func (d *Dataset) Marshal() ([]byte, error) { return json.MarshalIndent(d, "", "  ") }

// Rules returns the policy as the rules package applies it.
func (d *Dataset) Rules() policy.Rules {
	r := policy.Rules{
		Insurance:     map[string]policy.Insurance{},
		ClassBSelfPct: d.Policy.ClassBSelfPayPct,
		LimitPerTxn:   d.Policy.LimitPerTxn.Fen(),
		LimitDaily:    d.Policy.LimitDaily.Fen(),
		CreditMinAge:  d.Policy.CreditMinAge,
		CreditMaxAge:  d.Policy.CreditMaxAge,
	}
	for t, in := range d.Policy.Insurance {
		r.Insurance[t] = policy.Insurance{
			Deductible: in.Deductible.Fen(), RatioPct: in.RatioPct,
			YearCap: in.YearCap.Fen(), PersonalAccount: in.PersonalAccount,
		}
	}
	return r
}

// Institution returns the institution with a fixmedins_code.
func (d *Dataset) Institution(code string) (*Institution, bool) {
	in, ok := d.institutions[code]
	return in, ok
}

// ByKey, ByPsnNo, ByCertNo and ByCardNo find a person.
func (d *Dataset) ByKey(key string) (*Person, bool)   { p, ok := d.byKey[key]; return p, ok }
func (d *Dataset) ByPsnNo(no string) (*Person, bool)  { p, ok := d.byPsnNo[no]; return p, ok }
func (d *Dataset) ByCertNo(no string) (*Person, bool) { p, ok := d.byCertNo[no]; return p, ok }
func (d *Dataset) ByCardNo(no string) (*Person, bool) { p, ok := d.byCardNo[no]; return p, ok }

// CoveredBy returns the family link through which someone signs for the
// person psnNo, with its Signer set.
func (d *Dataset) CoveredBy(psnNo string) (FamilyLink, bool) {
	l, ok := d.coveredBy[psnNo]
	return l, ok
}

// Expired reports whether the card is past its expiry date on date: a card
// is valid through the whole of its expiry day (CST).
func (c *Card) Expired(date time.Time) bool {
	exp, err := time.ParseInLocation(protocol.DateLayout, c.ExpiryDate, protocol.CST)
	if err != nil {
		return true // validated at load; unreachable
	}
	return !date.Before(exp.AddDate(0, 0, 1))
}
