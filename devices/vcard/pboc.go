package vcard

import "fmt"

// PBOCDebit is the UnionPay debit application (PBOC 借记), the financial
// application a social-security card with a financial function carries
// beside SSSE. Card captures label A000000333010101 "PBOC DEBIT" (010102
// is credit): see the national interface notes, section 13.
var PBOCDebit = []byte{0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01}

// pbocLabel is the application label (tag 50) real debit cards carry.
const pbocLabel = "PBOC DEBIT"

// Where the account number is: SFI 1, record 1, as EMV cards commonly
// put it (the AFL would say so; this card has only that record).
const (
	pbocSFI    = 1
	pbocRecord = 1
)

// pbocFCI is the financial application's file control information: its
// DF name (84) and the proprietary template (A5) with the label (50) and
// the priority indicator (87).
func pbocFCI() []byte {
	prop := tlv(0xA5, append(tlv(0x50, []byte(pbocLabel)), tlv(0x87, []byte{0x01})...))
	return tlv(0x6F, append(tlv(0x84, PBOCDebit), prop...))
}

// accountRecord is SFI 1 record 1 of the financial application: the
// EMV record template (70) with the track 2 equivalent data (57), the
// account number (5A), its expiry (5F24) and sequence number (5F34), as
// the card's bank personalised them. The bank account expires with the
// card, in this virtual card.
func (p Profile) accountRecord() ([]byte, error) {
	pan := p.AccountNo
	if len(pan) == 0 || len(pan) > 19 {
		return nil, fmt.Errorf("%w: account number of %d digits, at most 19", ErrProfile, len(pan))
	}
	packed := bcd(pan, (len(pan)+1)/2)
	if packed == nil || len(p.ExpiryDate) != 8 {
		return nil, fmt.Errorf("%w: account number or expiry date does not encode", ErrProfile)
	}
	yymm, yymmdd := p.ExpiryDate[2:6], p.ExpiryDate[2:8]
	// Track 2: PAN, separator D, expiry YYMM, service code 220 (chip,
	// international), discretionary data, F-padded to whole bytes.
	var nibbles []byte
	for i := range len(pan) {
		nibbles = append(nibbles, pan[i]-'0')
	}
	nibbles = append(nibbles, 0xD)
	for _, c := range yymm + "220" + "00000" {
		nibbles = append(nibbles, byte(c-'0'))
	}
	if len(nibbles)%2 == 1 {
		nibbles = append(nibbles, 0xF)
	}
	track2 := make([]byte, len(nibbles)/2)
	for i := range track2 {
		track2[i] = nibbles[2*i]<<4 | nibbles[2*i+1]
	}
	body := tlv(0x57, track2)
	body = append(body, tlv(0x5A, packed)...)
	body = append(body, tlv(0x5F24, bcd(yymmdd, 3))...)
	body = append(body, tlv(0x5F34, []byte{0x01})...)
	return tlv(0x70, body), nil
}

// tlv encodes one BER-TLV item with a one- or two-byte tag and a short
// or 81-prefixed length.
func tlv(tag uint16, value []byte) []byte {
	var out []byte
	if tag > 0xFF {
		out = append(out, byte(tag>>8))
	}
	out = append(out, byte(tag))
	if len(value) > 0x7F {
		out = append(out, 0x81)
	}
	out = append(out, byte(len(value)))
	return append(out, value...)
}
