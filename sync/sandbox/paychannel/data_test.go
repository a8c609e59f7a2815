package paychannel

import (
	"errors"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// The agreements file is the personas' payinfo moved to the payment side:
// this test keeps the two from drifting apart.
func TestAgreementsAreThePersonasPayinfo(t *testing.T) {
	ds, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := DefaultData()
	if err != nil {
		t.Fatal(err)
	}
	if d.Rollout.PerPayment != ds.Policy.LimitPerTxn.Fen() || d.Rollout.Daily != ds.Policy.LimitDaily.Fen() ||
		d.Rollout.CreditMinAge != ds.Policy.CreditMinAge || d.Rollout.CreditMaxAge != ds.Policy.CreditMaxAge {
		t.Errorf("rollout %+v differs from the personas' policy", d.Rollout)
	}
	for _, p := range ds.People {
		e, ok := d.Patients[p.Certno]
		if p.Agreement == nil {
			if ok {
				t.Errorf("%s: an agreement the persona does not have", p.Key)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: agreement missing", p.Key)
			continue
		}
		a := p.Agreement
		if e.AccountFirst != (len(a.Sources) > 0 && a.Sources[0] == protocol.SourceAccount) {
			t.Errorf("%s: account_first %v, persona's sources %v", p.Key, e.AccountFirst, a.Sources)
		}
		if e.PerPayment != a.LimitPerTxn.Fen() || e.Daily != a.LimitDaily.Fen() {
			t.Errorf("%s: own limits %s/%s, persona's %s/%s", p.Key, e.PerPayment, e.Daily, a.LimitPerTxn.Fen(), a.LimitDaily.Fen())
		}
		var kinds []string
		for _, s := range a.Sources {
			if s != protocol.SourceAccount {
				kinds = append(kinds, s)
			}
		}
		if len(e.Sources) > len(kinds) && e.Note == "" {
			t.Errorf("%s: sources added without a note saying why", p.Key)
		}
		for i, kind := range kinds {
			if i >= len(e.Sources) || e.Sources[i].Kind != kind {
				t.Errorf("%s: source %d is not a %s", p.Key, i+1, kind)
				continue
			}
			s := e.Sources[i]
			switch kind {
			case protocol.SourceBank:
				if s.Bank != a.BankCard.Bank || !strings.HasSuffix(s.Masked, a.BankCard.Last4) || s.Balance != a.BankCard.Balance.Fen() {
					t.Errorf("%s: bank card %+v, persona's %+v", p.Key, s, a.BankCard)
				}
			case protocol.SourceCredit:
				if s.Bank != a.CreditLine.Bank || s.Limit != a.CreditLine.Limit.Fen() || s.Balance != a.CreditLine.Available.Fen() {
					t.Errorf("%s: credit line %+v, persona's %+v", p.Key, s, a.CreditLine)
				}
			}
		}
		if len(e.Family) != len(p.Family) {
			t.Errorf("%s: %d family links, persona has %d", p.Key, len(e.Family), len(p.Family))
			continue
		}
		for i, l := range p.Family {
			m, _ := ds.ByPsnNo(l.Member)
			fl := e.Family[i]
			if m == nil || fl.Member != m.Certno || fl.Relation != l.Relation || fl.ConfirmFirst != (l.Mode == protocol.FamilyConfirmFirst) {
				t.Errorf("%s: family link %+v, persona's %+v", p.Key, fl, l)
			}
		}
	}
	var cardAccount bool
	for _, p := range d.Patients {
		for _, s := range p.Sources {
			cardAccount = cardAccount || s.Kind == agent.SourceCardAccount
		}
	}
	if !cardAccount {
		t.Error("no patient pays from a social-security card's financial account")
	}
}

func TestDataRefusesWhatBreaksARule(t *testing.T) {
	ds, _ := personas.Default()
	for name, edit := range map[string][2]string{
		"unknown field":     {`"about"`, `"abuot"`},
		"credit line small": {`"limit_fen": 500000, "balance_fen": 500000`, `"limit_fen": 200000, "balance_fen": 200000`},
		"own limit above":   {`"per_payment_fen": 5000`, `"per_payment_fen": 50000`},
		"cousin":            {`"relation": "child"`, `"relation": "cousin"`},
		"wrong persona":     {`"persona": "bank-card"`, `"persona": "acct-first"`},
	} {
		b := strings.Replace(string(defaultData), edit[0], edit[1], 1)
		if b == string(defaultData) {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := ParseData([]byte(b), ds); !errors.Is(err, ErrData) {
			t.Errorf("%s: %v, want ErrData", name, err)
		}
	}
}
