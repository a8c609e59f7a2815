package paychannel

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

//go:embed agreements.json
var defaultData []byte

// DataVersion is the agreements file format this code reads.
const DataVersion = 1

// Data is the agreements file: the rollout's rules and every patient's
// agreement as the payment side keeps it.
type Data struct {
	Version  int                `json:"version"`
	About    string             `json:"about"`
	Rollout  Rollout            `json:"rollout"`
	Signed   Signed             `json:"signed"`
	Patients map[string]Patient `json:"patients"` // by ID number
}

// Rollout is the rules every agreement shares.
type Rollout struct {
	PerPayment   money.Fen `json:"per_payment_fen"` // password-free, per payment
	Daily        money.Fen `json:"daily_fen"`       // password-free, per Beijing day
	CreditMinAge int       `json:"credit_min_age"`  // inclusive
	CreditMaxAge int       `json:"credit_max_age"`  // inclusive
	CreditMin    money.Fen `json:"credit_line_min_fen"`
	CreditMax    money.Fen `json:"credit_line_max_fen"`
}

// Signed is what the sandbox's banks give a source signed at run time: a
// card's balance, a credit line's amount.
type Signed struct {
	Balance    money.Fen `json:"balance_fen"`
	CreditLine money.Fen `json:"credit_line_fen"`
}

// Patient is one signer's agreement.
type Patient struct {
	Persona      string       `json:"persona"` // the persona's key
	Note         string       `json:"note,omitempty"`
	AccountFirst bool         `json:"account_first"`
	PerPayment   money.Fen    `json:"per_payment_fen,omitempty"` // the patient's own lower limit
	Daily        money.Fen    `json:"daily_fen,omitempty"`
	Sources      []Source     `json:"sources"`
	Family       []FamilyLink `json:"family,omitempty"`
}

// Source is a source as seeded.
type Source struct {
	Kind   string `json:"kind"` // agent.SourceBankCard, SourceCreditLine, SourceCardAccount
	Bank   string `json:"bank"`
	Masked string `json:"masked"`
	// Balance is a card's balance, or a credit line's unused amount.
	Balance money.Fen `json:"balance_fen"`
	Limit   money.Fen `json:"limit_fen,omitempty"` // a credit line's amount
}

// FamilyLink is a member the signer pays for.
type FamilyLink struct {
	Member       string `json:"member"`   // ID number
	Relation     string `json:"relation"` // the member's relation to the signer
	ConfirmFirst bool   `json:"confirm_first"`
}

// DefaultData returns the built-in agreements, checked against the
// built-in personas.
func DefaultData() (*Data, error) {
	ds, err := personas.Default()
	if err != nil {
		return nil, err
	}
	return ParseData(defaultData, ds)
}

// ParseData decodes an agreements file strictly and checks it; with ds,
// also that every patient is the persona it names.
func ParseData(b []byte, ds *personas.Dataset) (*Data, error) {
	var d Data
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrData)
	}
	if d.Version != DataVersion {
		return nil, fmt.Errorf("%w: version %d, this code reads %d", ErrData, d.Version, DataVersion)
	}
	if err := d.check(ds); err != nil {
		return nil, err
	}
	return &d, nil
}

// IDNos returns the patients' ID numbers in order.
func (d *Data) IDNos() []string {
	out := make([]string, 0, len(d.Patients))
	for k := range d.Patients {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (d *Data) check(ds *personas.Dataset) error {
	r := d.Rollout
	switch {
	case r.PerPayment <= 0 || r.Daily < r.PerPayment:
		return fmt.Errorf("%w: rollout limits %s per payment, %s a day", ErrData, r.PerPayment, r.Daily)
	case r.CreditMinAge < 0 || r.CreditMaxAge < r.CreditMinAge:
		return fmt.Errorf("%w: rollout credit ages %d to %d", ErrData, r.CreditMinAge, r.CreditMaxAge)
	case r.CreditMin <= 0 || r.CreditMax < r.CreditMin:
		return fmt.Errorf("%w: rollout credit lines %s to %s", ErrData, r.CreditMin, r.CreditMax)
	case d.Signed.Balance < 0 || d.Signed.CreditLine < r.CreditMin || d.Signed.CreditLine > r.CreditMax:
		return fmt.Errorf("%w: signed balance %s, credit line %s", ErrData, d.Signed.Balance, d.Signed.CreditLine)
	}
	members := map[string]string{}
	for _, no := range d.IDNos() {
		p := d.Patients[no]
		if err := d.checkPatient(no, p, ds); err != nil {
			return fmt.Errorf("%w: patient %s: %w", ErrData, p.Persona, err)
		}
		for _, l := range p.Family {
			if other, dup := members[l.Member]; dup {
				return fmt.Errorf("%w: patient %s: family member also covered by %s", ErrData, p.Persona, other)
			}
			members[l.Member] = p.Persona
		}
	}
	return nil
}

func (d *Data) checkPatient(no string, p Patient, ds *personas.Dataset) error {
	if err := idno.Check(no); err != nil {
		return fmt.Errorf("ID number: %w", err)
	}
	if ds != nil {
		per, ok := ds.ByCertNo(no)
		if !ok || per.Key != p.Persona {
			return fmt.Errorf("ID number is not persona %q's", p.Persona)
		}
	}
	if p.PerPayment < 0 || p.PerPayment > d.Rollout.PerPayment || p.Daily < 0 || p.Daily > d.Rollout.Daily {
		return fmt.Errorf("own limits %s, %s above the rollout's", p.PerPayment, p.Daily)
	}
	for i, s := range p.Sources {
		switch s.Kind {
		case agent.SourceBankCard, agent.SourceCardAccount:
			if s.Limit != 0 {
				return fmt.Errorf("source %d: a limit on a %s", i+1, s.Kind)
			}
		case agent.SourceCreditLine:
			if s.Limit < d.Rollout.CreditMin || s.Limit > d.Rollout.CreditMax || s.Balance > s.Limit {
				return fmt.Errorf("source %d: credit line %s (available %s) outside %s to %s", i+1, s.Limit, s.Balance, d.Rollout.CreditMin, d.Rollout.CreditMax)
			}
		default:
			return fmt.Errorf("source %d: kind %q", i+1, s.Kind)
		}
		if s.Masked == "" || s.Bank == "" || s.Balance < 0 {
			return fmt.Errorf("source %d: no masked number, no bank, or a negative balance", i+1)
		}
	}
	for _, l := range p.Family {
		switch {
		case idno.Check(l.Member) != nil:
			return fmt.Errorf("family member %q: not an ID number", l.Member)
		case l.Member == no:
			return fmt.Errorf("family member is the signer")
		case !policy.ValidRelation(l.Relation):
			return fmt.Errorf("family relation %q (only spouse, parent, child)", l.Relation)
		}
		if _, own := d.Patients[l.Member]; own {
			return fmt.Errorf("family member %s has an agreement of their own", l.Member)
		}
	}
	return nil
}
