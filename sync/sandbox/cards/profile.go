// Package cards is the patients' social-security cards in the sandbox: a
// persona's card as a virtual card (package devices/vcard) issued under the
// data set's test PSAM key, the hospital's PSAM holding that key, and a
// rack of vpcd card readers that the sandbox inserts them into and removes
// them from. The sandbox process holds each card's TCP connection to vpcd:
// closing it is pulling the card out.
package cards

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/seed-a859fada/medterm/devices/vcard"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// cardType is EF05 tag 02 of every sandbox card: "1", a social-security
// card proper.
const cardType = '1'

// Profile is what a persona's card holds: the issuance data of the
// persona file's card, the holder's identity, and for a 3.0 card the
// data set's PSAM master key, from which vcard diversifies the card's key
// as package devices/psam does.
func Profile(d *personas.Dataset, p *personas.Person) (vcard.Profile, error) {
	c := p.Card
	if c == nil {
		return vcard.Profile{}, fmt.Errorf("%w: persona %s has none", ErrNoCard, p.Key)
	}
	id, err := hex.DecodeString(c.CardSn)
	if err != nil || len(id) != 16 {
		return vcard.Profile{}, fmt.Errorf("%w: persona %s: card_sn is not 32 hex digits", ErrNoCard, p.Key) // validated at load
	}
	if len(p.Nation) != 2 {
		// EF06 tag 0B holds two digits and no padding.
		return vcard.Profile{}, fmt.Errorf("%w: persona %s has no nation for the card's ethnicity", ErrNoCard, p.Key)
	}
	prof := vcard.Profile{
		Version:  c.Version,
		CardID:   id,
		CardType: cardType,
		// The identifier's first 12 characters are the issuing region and
		// the application id: the issuer as real cards name it.
		Institution: c.CardSn[:12],
		IssueDate:   compact(c.IssueDate),
		ExpiryDate:  compact(c.ExpiryDate),
		CardNumber:  c.CardNo,
		IDNumber:    p.Certno,
		Name:        p.Name,
		Gender:      p.Gender[0],
		Ethnicity:   p.Nation,
		Birthplace:  p.Birthplace,
		BirthDate:   compact(p.BirthDate),
		Blocked:     c.Status == personas.CardBlocked,
		AccountNo:   AccountNo(p),
	}
	if master, keyID, ok := d.PSAMKey(); ok {
		prof.MasterKey, prof.KeyID = master, keyID
	} else if c.Version == "3.00" {
		return vcard.Profile{}, fmt.Errorf("%w: persona %s has a 3.0 card, and the data set no PSAM key to issue it under (version 2 adds platform.psam)", ErrNoCard, p.Key)
	}
	return prof, nil
}

// financial are the personas whose cards have a financial function
// (社保卡金融账户): a UnionPay debit application beside SSSE, whose account
// the payment leg may debit. Cards of both generations that issue them,
// beside cards of the same rules without one. A table here, not a field of
// the persona file: the file's format predates the financial application.
var financial = map[string]bool{
	"acct-first":    true, // 3.0
	"bank-card":     true, // 2.0
	"family-signer": true, // 3.0
	"resident-390":  true, // 2.0
}

// AccountNo is the account number of the financial application on the
// persona's card, "" when the card has none. It is invented: 6217 (a
// UnionPay debit prefix) 000000, the card number's eight digits, and a
// Luhn check digit, so that each persona's is distinct and checks.
func AccountNo(p *personas.Person) string {
	if p.Card == nil || !financial[p.Key] {
		return ""
	}
	var digits []byte
	for i := range len(p.Card.CardNo) {
		if c := p.Card.CardNo[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	body := "6217000000" + string(digits)
	return body + string(luhnDigit(body))
}

// luhnDigit is the check digit that makes body plus it pass the Luhn check.
func luhnDigit(body string) byte {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 { // doubled: every second digit from the check digit's left
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// compact turns a YYYY-MM-DD date into the card's YYYYMMDD.
func compact(date string) string { return strings.ReplaceAll(date, "-", "") }

// NewCard makes the persona's virtual card, misbehaving as f says.
func NewCard(d *personas.Dataset, key string, f Faults) (*vcard.Card, *personas.Person, error) {
	p, ok := d.ByKey(key)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownPersona, key)
	}
	prof, err := Profile(d, p)
	if err != nil {
		return nil, nil, err
	}
	vf, err := f.vcard()
	if err != nil {
		return nil, nil, err
	}
	card, err := vcard.NewCard(prof, vf)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: persona %s: %w", ErrNoCard, key, err)
	}
	return card, p, nil
}

// NewPSAM is the hospital's PSAM holding the data set's master key.
func NewPSAM(d *personas.Dataset) (*vcard.PSAM, error) {
	master, keyID, ok := d.PSAMKey()
	if !ok {
		return nil, fmt.Errorf("%w: the data set has no PSAM key (version 2 adds platform.psam)", ErrNoCard)
	}
	return vcard.NewPSAM(map[byte][]byte{keyID: master})
}

// Faults is vcard.Faults as the admin API takes it in JSON.
type Faults struct {
	// PullAfter pulls the card when its n-th command APDU arrives.
	PullAfter int `json:"pull_after,omitempty"`
	// Chain hands records out through GET RESPONSE in parts of n bytes.
	Chain int `json:"chain,omitempty"`
	// WrongLe answers every READ RECORD with 6Cxx first.
	WrongLe bool `json:"wrong_le,omitempty"`
	// Corrupt replaces records as read: tag (2 hex digits) → bytes (hex).
	Corrupt map[string]string `json:"corrupt,omitempty"`
	// AccountRecord replaces the financial application's record (SFI 1,
	// record 1) as read, in hex: a wrong check digit, a wrong tag. Only
	// cards with a financial function have that record.
	AccountRecord string `json:"account_record,omitempty"`
}

func (f Faults) vcard() (vcard.Faults, error) {
	if f.PullAfter < 0 || f.Chain < 0 || f.Chain > 255 {
		return vcard.Faults{}, fmt.Errorf("%w: pull_after must not be negative, chain 0 to 255", ErrFaults)
	}
	vf := vcard.Faults{PullAfter: f.PullAfter, Chain: f.Chain, WrongLe: f.WrongLe}
	if len(f.Corrupt) > 0 {
		vf.Corrupt = map[byte][]byte{}
	}
	for tag, rec := range f.Corrupt {
		t, err1 := hex.DecodeString(tag)
		b, err2 := hex.DecodeString(rec)
		if err1 != nil || err2 != nil || len(t) != 1 || len(b) > 255 {
			return vcard.Faults{}, fmt.Errorf("%w: corrupt wants a tag of 2 hex digits and a record of hex bytes, got %q", ErrFaults, tag)
		}
		vf.Corrupt[t[0]] = b
	}
	if f.AccountRecord != "" {
		b, err := hex.DecodeString(f.AccountRecord)
		if err != nil || len(b) > 255 {
			return vcard.Faults{}, fmt.Errorf("%w: account_record wants at most 255 bytes in hex", ErrFaults)
		}
		vf.AccountRecord = b
	}
	return vf, nil
}
