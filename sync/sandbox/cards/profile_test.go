package cards_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/pan"
	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/psam"
	"github.com/seed-a859fada/medterm/devices/sscard"
	"github.com/seed-a859fada/medterm/devices/vcard"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// today is the day the persona file's card expiries are stated for.
var today = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func dataset(t testing.TB) *personas.Dataset {
	t.Helper()
	d, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// onePSAM is a CardReader with the data set's PSAM in its only reader,
// in process.
type onePSAM struct{ card agent.Card }

func (o onePSAM) Readers(context.Context) ([]string, error) { return []string{"PSAM"}, nil }
func (o onePSAM) WaitChange(context.Context, []agent.ReaderState) ([]agent.ReaderState, error) {
	return []agent.ReaderState{{Reader: "PSAM", Present: true}}, nil
}
func (o onePSAM) Connect(context.Context, string) (agent.Card, error) { return o.card, nil }

func reader(t testing.TB, d *personas.Dataset) *sscard.Reader {
	t.Helper()
	p, err := cards.NewPSAM(d)
	if err != nil {
		t.Fatal(err)
	}
	_, keyID, _ := d.PSAMKey()
	return &sscard.Reader{Module: psam.New(onePSAM{vcard.Direct(p)}, "PSAM"), KeyID: keyID, Clock: clock.NewFake(today)}
}

// TestEveryPersonaCardReadsAsItsPersona reads each persona's virtual card
// in process with the terminal's card reader and the sandbox's PSAM, and
// finds the persona's identity on it, field by field.
func TestEveryPersonaCardReadsAsItsPersona(t *testing.T) {
	d := dataset(t)
	r := reader(t, d)
	versions := map[string]bool{}
	financial := map[bool][]string{} // with an account → versions
	for _, p := range d.People {
		if p.Card == nil {
			continue
		}
		t.Run(p.Key, func(t *testing.T) {
			card, _, err := cards.NewCard(d, p.Key, cards.Faults{})
			if err != nil {
				t.Fatal(err)
			}
			id, err := r.Read(t.Context(), vcard.Direct(card))
			switch {
			case p.Card.Status == personas.CardBlocked:
				if !errors.Is(err, apdu.ErrBlocked) {
					t.Fatalf("a blocked card read: %v, want the card's 6983", err)
				}
				return
			case p.Card.Expired(today):
				if !errors.Is(err, sscard.ErrCardExpired) {
					t.Fatalf("an expired card read: %v, want ErrCardExpired", err)
				}
			case err != nil:
				t.Fatal(err)
			}
			versions[id.Version] = true
			want := sscard.Identity{
				CardID: p.Card.CardSn, Region: p.Card.CardSn[:6], CardType: "1", Version: p.Card.Version,
				Institution: p.Card.CardSn[:12], IssueDate: p.Card.IssueDate, ExpiryDate: p.Card.ExpiryDate,
				CardNumber: p.Card.CardNo, IDNumber: p.Certno, Name: p.Name, Gender: p.Gender,
				Ethnicity: p.Nation, Birthplace: p.Birthplace, BirthDate: p.BirthDate, ATR: id.ATR,
				AccountNo: cards.AccountNo(&p),
			}
			if *id != want {
				t.Fatalf("read\n%+v\nwant\n%+v", *id, want)
			}
			financial[id.AccountNo != ""] = append(financial[id.AccountNo != ""], id.Version)
		})
	}
	for _, v := range []string{"1.00", "2.00", "3.00"} {
		if !versions[v] {
			t.Errorf("no card of version %s was read", v)
		}
	}
	if len(financial[true]) == 0 || !slices.Contains(financial[false], "2.00") || !slices.Contains(financial[false], "3.00") {
		t.Errorf("cards with a financial account %v, without %v: want some of each, of both generations without", financial[true], financial[false])
	}
}

// Each financial account is an invented UnionPay debit number that checks,
// distinct for each persona.
func TestFinancialAccountsAreValidAndDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, p := range dataset(t).People {
		acct := cards.AccountNo(&p)
		if acct == "" {
			continue
		}
		if len(acct) != 19 || !strings.HasPrefix(acct, "6217") || !pan.Luhn(acct) {
			t.Errorf("%s: account %s is not a 19-digit 6217 number with a valid check digit", p.Key, acct)
		}
		if other, dup := seen[acct]; dup {
			t.Errorf("%s and %s share account %s", p.Key, other, acct)
		}
		seen[acct] = p.Key
	}
}

// A 3.0 card is keyed from the data set's PSAM key: a PSAM with another
// key is refused by the card itself.
func TestA3CardNeedsTheDataSetsPSAMKey(t *testing.T) {
	d := dataset(t)
	card, _, err := cards.NewCard(d, "acct-first", cards.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := vcard.NewPSAM(map[byte][]byte{4: []byte("0123456789abcdef")})
	r := &sscard.Reader{Module: psam.New(onePSAM{vcard.Direct(other)}, "PSAM"), Clock: clock.NewFake(today)}
	if _, err := r.Read(t.Context(), vcard.Direct(card)); !errors.Is(err, apdu.ErrVerifyFailed) {
		t.Fatalf("read with another PSAM key: %v, want a failed verification", err)
	}
}

func TestProfileRefuses(t *testing.T) {
	d := dataset(t)
	raw, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The same data set as a version 1 file: no PSAM key, no phones.
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = 1
	delete(m["platform"].(map[string]any), "psam")
	for _, p := range m["people"].([]any) {
		delete(p.(map[string]any), "phone")
		delete(p.(map[string]any), "birthplace")
	}
	raw, _ = json.Marshal(m)
	v1, err := personas.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    *personas.Dataset
		persona string
		faults  cards.Faults
		want    error
	}{
		{"an unknown persona", d, "nobody", cards.Faults{}, cards.ErrUnknownPersona},
		{"a persona without a card", d, "opaque-only", cards.Faults{}, cards.ErrNoCard},
		{"a 3.0 card without a PSAM key", v1, "acct-first", cards.Faults{}, cards.ErrNoCard},
		{"a negative pull", d, "bank-card", cards.Faults{PullAfter: -1}, cards.ErrFaults},
		{"a corrupt tag that is not a byte", d, "bank-card", cards.Faults{Corrupt: map[string]string{"109": "00"}}, cards.ErrFaults},
		{"a corrupt record that is not hex", d, "bank-card", cards.Faults{Corrupt: map[string]string{"09": "zz"}}, cards.ErrFaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cards.NewCard(tt.data, tt.persona, tt.faults)
			if !errors.Is(err, tt.want) {
				t.Fatalf("NewCard = %v, want %v", err, tt.want)
			}
		})
	}
	// A 2.0 card needs no key: it reads from a version 1 data set.
	card, _, err := cards.NewCard(v1, "bank-card", cards.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := (&sscard.Reader{Clock: clock.NewFake(today)}).Read(t.Context(), vcard.Direct(card))
	if err != nil || id.Version != "2.00" || id.Birthplace != "" {
		t.Fatalf("2.0 card from a version 1 data set: %+v, %v", id, err)
	}
	if _, err := cards.NewPSAM(v1); !errors.Is(err, cards.ErrNoCard) || !strings.Contains(err.Error(), "PSAM") {
		t.Fatalf("NewPSAM of a version 1 data set: %v", err)
	}
}

// The scripted faults reach the card: a corrupt name is refused by the
// reader, a chained and 6Cxx-first card still reads.
func TestFaultsReachTheCard(t *testing.T) {
	d := dataset(t)
	r := reader(t, d)
	card, _, err := cards.NewCard(d, "bank-card", cards.Faults{Chain: 7, WrongLe: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context(), vcard.Direct(card)); err != nil {
		t.Fatalf("chained, 6Cxx-first card: %v", err)
	}
	card, _, err = cards.NewCard(d, "bank-card", cards.Faults{Corrupt: map[string]string{"0D": "0D0420261399"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context(), vcard.Direct(card)); err == nil || !strings.Contains(err.Error(), "0D") {
		t.Fatalf("a card with a 13th month of birth read: %v", err)
	}
	// A financial record with the wrong template: the holder is read, the
	// account is not.
	card, p, err := cards.NewCard(d, "bank-card", cards.Faults{AccountRecord: "710C5A0A6217000000198800025F"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.Read(t.Context(), vcard.Direct(card))
	if err != nil || id.IDNumber != p.Certno || id.AccountNo != "" || !errors.Is(id.AccountErr, sscard.ErrWrongTag) {
		t.Fatalf("a card with a wrong financial template: %+v, %v", id, err)
	}
	if _, _, err := cards.NewCard(d, "bank-card", cards.Faults{AccountRecord: "7"}); !errors.Is(err, cards.ErrFaults) {
		t.Fatalf("an account record that is not hex: %v, want ErrFaults", err)
	}
}
