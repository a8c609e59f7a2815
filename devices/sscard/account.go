package sscard

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/seed-a859fada/medterm/agent/pan"
	"github.com/seed-a859fada/medterm/devices/apdu"
)

// pbocDebit is the UnionPay debit application (PBOC 借记) that a card with
// a financial function (社保卡金融账户) carries beside SSSE. Card captures
// label A000000333010101 "PBOC DEBIT" and 010102 credit; a social-security
// card's own account is a debit account, so 010101 is the only one asked
// for.
var pbocDebit = []byte{0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01}

// The account number's record: SFI 1, record 1, where EMV cards commonly
// keep it. The AFL from GET PROCESSING OPTIONS would say for certain, but
// GPO starts a payment transaction, which a read at the desk is not.
var (
	selectDebit = apdu.Command{INS: 0xA4, P1: 0x04, Data: pbocDebit, Le: 256}
	readAccount = apdu.Command{INS: 0xB2, P1: 0x01, P2: 1<<3 | 0x04, Le: 256} // 00 B2 01 0C 00
)

// EMV tags read here.
const (
	tagFCI      = 0x6F
	tagDFName   = 0x84
	tagTemplate = 0x70 // READ RECORD response template
	tagPAN      = 0x5A
	tagTrack2   = 0x57
)

// readAccountNo selects the financial application and reads its account
// number. A card without one (6A82 on SELECT) gives "" and no error. The
// card's answers, malformed or refused, come back as answerErr, to be
// reported beside the identity; err is the connection failing (the card
// pulled, the reader gone), which ends the read as anywhere else.
func readAccountNo(ctx context.Context, card apdu.Card) (pan string, answerErr, err error) {
	fci, err := apdu.Exchange(ctx, card, selectDebit)
	switch {
	case errors.Is(err, apdu.ErrFileNotFound):
		return "", nil, nil
	case err != nil && answered(err):
		return "", fmt.Errorf("select the financial application: %w", err), nil
	case err != nil:
		return "", nil, fmt.Errorf("select the financial application: %w", err)
	}
	if err := checkFCI(fci); err != nil {
		return "", fmt.Errorf("select the financial application: %w", err), nil
	}
	rec, err := apdu.Exchange(ctx, card, readAccount)
	switch {
	case err != nil && answered(err):
		return "", fmt.Errorf("read the financial application's SFI 1 record 1: %w", err), nil
	case err != nil:
		return "", nil, fmt.Errorf("read the financial application's SFI 1 record 1: %w", err)
	}
	pan, err = parseAccountRecord(rec)
	if err != nil {
		return "", fmt.Errorf("financial application's SFI 1 record 1: %w", err), nil
	}
	return pan, nil, nil
}

// answered reports whether err is the card's answer (a status word, a
// response too short to hold one, an endless 61xx chain) rather than the
// connection failing.
func answered(err error) bool {
	var se *apdu.StatusError
	return errors.As(err, &se) || errors.Is(err, apdu.ErrShortResponse) || errors.Is(err, apdu.ErrChainTooLong)
}

// checkFCI accepts the FCI of the debit application: a 6F template whose
// DF name starts with the AID (a longer name is a partial match that
// ISO 7816-4 allows).
func checkFCI(b []byte) error {
	fci, err := single(b, tagFCI, "FCI")
	if err != nil {
		return err
	}
	items, err := parseTLV(fci)
	if err != nil {
		return fmt.Errorf("FCI: %w", err)
	}
	name, ok := find(items, tagDFName)
	if !ok || !bytes.HasPrefix(name, pbocDebit) {
		return fmt.Errorf("FCI: %w", ErrNotDebit)
	}
	return nil
}

// parseAccountRecord returns the account number of an EMV record
// (template 70): tag 5A, BCD with F padding; without it, the digits
// before the separator D of the track 2 equivalent data (57). When both
// are there they must agree. The number must be 16 to 19 digits, the
// lengths of UnionPay cards, with a valid Luhn check digit.
func parseAccountRecord(rec []byte) (string, error) {
	body, err := single(rec, tagTemplate, "record template")
	if err != nil {
		return "", err
	}
	items, err := parseTLV(body)
	if err != nil {
		return "", fmt.Errorf("record template: %w", err)
	}
	var fromPAN, fromTrack2 string
	if v, ok := find(items, tagPAN); ok {
		if fromPAN, err = panDigits(v); err != nil {
			return "", fmt.Errorf("tag 5A (account number): %w", err)
		}
	}
	if v, ok := find(items, tagTrack2); ok {
		if fromTrack2, err = track2PAN(v); err != nil {
			return "", fmt.Errorf("tag 57 (track 2 equivalent data): %w", err)
		}
	}
	pan := fromPAN
	switch {
	case pan == "" && fromTrack2 == "":
		return "", ErrNoAccountNo
	case pan == "":
		pan = fromTrack2
	case fromTrack2 != "" && fromTrack2 != pan:
		return "", ErrAccountMismatch
	}
	if err := checkPAN(pan); err != nil {
		return "", err
	}
	return pan, nil
}

// panDigits decodes tag 5A: compressed numeric, right-padded with F.
func panDigits(v []byte) (string, error) {
	if len(v) == 0 || len(v) > 10 {
		return "", fmt.Errorf("%w: %d bytes", ErrBadAccountNo, len(v))
	}
	return bcdDigits(v, true)
}

// track2PAN returns the digits before the field separator D of track 2
// equivalent data: PAN, D, expiry, service code, discretionary data,
// F-padded.
func track2PAN(v []byte) (string, error) {
	digits := make([]byte, 0, 2*len(v))
	for i, x := range v {
		for _, n := range [2]byte{x >> 4, x & 0x0F} {
			switch {
			case n == 0xD:
				return string(digits), nil
			case n > 9:
				return "", fmt.Errorf("%w: nibble %X in byte %d", ErrBadBCD, n, i+1)
			}
			digits = append(digits, '0'+n)
		}
	}
	return "", ErrBadTrack2
}

// checkPAN accepts 16 to 19 digits with a valid Luhn check digit
// (ISO/IEC 7812-1). The messages never show the digits.
func checkPAN(number string) error {
	if len(number) < 16 || len(number) > 19 || !digits(number) {
		return fmt.Errorf("%w: %d digits", ErrBadAccountNo, len(number))
	}
	if !pan.Luhn(number) {
		return ErrAccountCheckDigit
	}
	return nil
}

// tlvItem is one BER-TLV data object: its tag (1 to 3 bytes, as a
// number) and value.
type tlvItem struct {
	tag   uint32
	value []byte
}

// parseTLV splits BER-TLV data (EMV Book 3, annex B) into its top-level
// objects. 00 and FF bytes between objects are padding.
func parseTLV(b []byte) ([]tlvItem, error) {
	var items []tlvItem
	for i := 0; i < len(b); {
		if b[i] == 0x00 || b[i] == 0xFF {
			i++
			continue
		}
		start := i
		tag := uint32(b[i])
		i++
		if tag&0x1F == 0x1F { // more tag bytes follow, each with b8 set but the last
			for {
				if i >= len(b) || i-start >= 3 {
					return nil, fmt.Errorf("%w: tag at byte %d", ErrBadTLV, start+1)
				}
				tag = tag<<8 | uint32(b[i])
				i++
				if b[i-1]&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			return nil, fmt.Errorf("%w: no length after the tag at byte %d", ErrBadTLV, start+1)
		}
		n := int(b[i])
		i++
		if n&0x80 != 0 {
			k := n & 0x7F
			if k == 0 || k > 2 || i+k > len(b) {
				return nil, fmt.Errorf("%w: length at byte %d", ErrBadTLV, i)
			}
			n = 0
			for _, x := range b[i : i+k] {
				n = n<<8 | int(x)
			}
			i += k
		}
		if n > len(b)-i {
			return nil, fmt.Errorf("%w: object at byte %d has %d bytes, %d left", ErrTruncatedRecord, start+1, n, len(b)-i)
		}
		items = append(items, tlvItem{tag: tag, value: b[i : i+n]})
		i += n
	}
	return items, nil
}

// single returns the value of the one object that b must be, tagged tag.
func single(b []byte, tag uint32, what string) ([]byte, error) {
	items, err := parseTLV(b)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", what, err)
	case len(items) == 0:
		return nil, fmt.Errorf("%s: %w: empty", what, ErrTruncatedRecord)
	case items[0].tag != tag:
		return nil, fmt.Errorf("%s: %w: %X, want %X", what, ErrWrongTag, items[0].tag, tag)
	case len(items) > 1:
		return nil, fmt.Errorf("%s: %w: data after the %X template", what, ErrBadTLV, tag)
	}
	return items[0].value, nil
}

// find returns the value of the first object tagged tag.
func find(items []tlvItem, tag uint32) ([]byte, bool) {
	for _, it := range items {
		if it.tag == tag {
			return it.value, true
		}
	}
	return nil, false
}
