package vcard

import (
	"bytes"
	"fmt"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Profile is what is printed on and written into a virtual card.
// Strings are as a person reads them; the card encodes them (BCD, ASCII,
// GB18030) as the national specification lays the records out.
type Profile struct {
	Version     string // spec version: "1.00", "2.00" or "3.00"
	CardID      []byte // EF05 tag 01, 16 bytes: region (3, BCD) + D1 56 00 00 05 + 8 bytes
	CardType    byte   // EF05 tag 02
	Institution string // EF05 tag 04, up to 12 characters
	IssueDate   string // YYYYMMDD
	ExpiryDate  string // YYYYMMDD
	CardNumber  string // 9 characters
	IDNumber    string // 18 characters
	Name        string // up to 30 bytes in GB18030, 50 on 2.0 and 3.0 cards
	Gender      byte   // '1' male, '2' female
	Ethnicity   string // 2 digits
	Birthplace  string // up to 6 digits
	BirthDate   string // YYYYMMDD
	// AccountNo is the account number (PAN) of the card's financial
	// application (PBOCDebit), up to 19 digits; empty for a card without a
	// financial function, which answers 6A82 when that application is
	// selected.
	AccountNo string
	// Blocked makes the card answer 6983 when its application is selected.
	Blocked bool
	// MasterKey is the 16-byte SM4 master key a 3.0 card's key is
	// diversified from (psam.CardKey); the PSAM must hold the same one.
	MasterKey []byte
	// KeyID is the key a 3.0 card expects in EXTERNAL AUTHENTICATE's P2.
	KeyID byte
	// AuthTries is how many wrong cryptograms a 3.0 card tolerates before
	// it blocks; 0 means 3.
	AuthTries int
	// ATR overrides the default answer to reset.
	ATR []byte
}

// SSSE is the social-security application's name, "sx1.sh.社会保障" in
// GBK.
var SSSE = []byte{0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF}

// records encodes the profile as EF05 and EF06 records, tag → TLV.
func (p Profile) records() (ef05, ef06 map[byte][]byte, err error) {
	v2 := p.Version == "2.00" || p.Version == "3.00"
	if !v2 && p.Version != "1.00" {
		return nil, nil, fmt.Errorf("%w: version %q", ErrProfile, p.Version)
	}
	if len(p.CardID) != 16 {
		return nil, nil, fmt.Errorf("%w: card identifier has %d bytes, want 16", ErrProfile, len(p.CardID))
	}
	name, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(p.Name))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: name: %w", ErrProfile, err)
	}
	limit := 30
	if v2 {
		limit = 50
	}
	if len(name) > limit {
		return nil, nil, fmt.Errorf("%w: name is %d bytes in GB18030, the card holds %d", ErrProfile, len(name), limit)
	}
	name = append(name, make([]byte, 50-len(name))...)

	var e error
	field := func(b []byte) []byte {
		if b == nil && e == nil {
			e = fmt.Errorf("%w: a field does not encode", ErrProfile)
		}
		return b
	}
	ef05 = map[byte][]byte{
		0x01: p.CardID,
		0x02: {p.CardType},
		0x03: field(ascii(p.Version, 4)),
		0x04: field(ascii(p.Institution, 12)),
		0x05: field(bcd(p.IssueDate, 4)),
		0x06: field(bcd(p.ExpiryDate, 4)),
		0x07: field(ascii(p.CardNumber, 9)),
	}
	ef06 = map[byte][]byte{
		0x08: field(ascii(p.IDNumber, 18)),
		0x09: name[:30],
		0x0A: {p.Gender},
		0x0B: field(bcd(p.Ethnicity, 1)),
		0x0C: field(bcd(p.Birthplace, 3)),
		0x0D: field(bcd(p.BirthDate, 4)),
	}
	if v2 {
		ef06[0x4E] = name[30:]
	}
	if e != nil {
		return nil, nil, e
	}
	for _, m := range []map[byte][]byte{ef05, ef06} {
		for tag, v := range m {
			m[tag] = append([]byte{tag, byte(len(v))}, v...)
		}
	}
	return ef05, ef06, nil
}

// ascii pads s with 00 to n bytes; nil if it does not fit.
func ascii(s string, n int) []byte {
	if len(s) > n {
		return nil
	}
	b := make([]byte, n)
	copy(b, s)
	return b
}

// bcd packs decimal digits two per byte, right-padded with F nibbles to n
// bytes; nil for a non-digit or an overlong string.
func bcd(s string, n int) []byte {
	if len(s) > 2*n {
		return nil
	}
	digits := bytes.Repeat([]byte{0xF}, 2*n)
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return nil
		}
		digits[i] = s[i] - '0'
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[2*i]<<4 | digits[2*i+1]
	}
	return b
}

// defaultATR is a T=0 ATR whose 12 historical bytes name the card and
// carry the tail of its identifier, so two virtual cards differ.
func (p Profile) defaultATR() []byte {
	atr := []byte{0x3B, 0x6C, 0x00, 0x00} // TS, T0 (TB1, TC1, 12 historical bytes), TB1, TC1
	atr = append(atr, 'S', 'S', 'C', p.Version[0])
	return append(atr, p.CardID[8:16]...)
}
