package sscard

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// rid is the registered application provider of the national card,
// bytes 4 to 8 of every card identifier.
var rid = []byte{0xD1, 0x56, 0x00, 0x00, 0x05}

func (id *Identity) decodeEF05(v map[byte][]byte) error {
	cid := v[fCardID.tag]
	id.CardID = strings.ToUpper(hex.EncodeToString(cid))
	id.Region = id.CardID[:6]
	if !bytes.Equal(cid[3:8], rid) {
		return fmt.Errorf("%v: %w: no D156000005 after the region", fCardID, ErrBadCardID)
	}
	if err := checkRegion(id.Region); err != nil {
		return fmt.Errorf("%v: %w", fCardID, err)
	}
	id.CardType = printable(v[fCardType.tag][0])

	var err error
	if id.Version, err = text(v[fVersion.tag]); err != nil {
		return fmt.Errorf("%v: %w", fVersion, err)
	}
	switch id.Version {
	case "1.00", "2.00", "3.00":
	default:
		return fmt.Errorf("%v: %w: %q", fVersion, ErrUnsupported, id.Version)
	}
	if id.Institution, err = text(v[fInstitution.tag]); err != nil {
		return fmt.Errorf("%v: %w", fInstitution, err)
	}
	if id.IssueDate, err = date(fIssueDate, v); err != nil {
		return err
	}
	if id.ExpiryDate, err = date(fExpiryDate, v); err != nil {
		return err
	}
	if id.CardNumber, err = text(v[fCardNumber.tag]); err != nil {
		return fmt.Errorf("%v: %w", fCardNumber, err)
	}
	return nil
}

func (id *Identity) decodeEF06(v map[byte][]byte) error {
	var err error
	if id.IDNumber, err = text(v[fIDNumber.tag]); err != nil {
		return fmt.Errorf("%v: %w", fIDNumber, err)
	}
	if err := checkIDNumber(id.IDNumber); err != nil {
		return fmt.Errorf("%v: %w", fIDNumber, err)
	}
	name := append(bytes.Clone(v[fName.tag]), v[fNameExt.tag]...)
	if id.Name, err = decodeName(name); err != nil {
		return fmt.Errorf("%v: %w", fName, err)
	}
	switch g := v[fGender.tag][0]; g {
	case '0', '1', '2', '9':
		id.Gender = string(rune(g))
	default:
		return fmt.Errorf("%v: %w: %02X", fGender, ErrBadGender, g)
	}
	if id.Ethnicity, err = bcdDigits(v[fEthnicity.tag], false); err != nil {
		return fmt.Errorf("%v: %w", fEthnicity, err)
	}
	if id.Birthplace, err = bcdDigits(v[fBirthplace.tag], true); err != nil {
		return fmt.Errorf("%v: %w", fBirthplace, err)
	}
	if id.BirthDate, err = date(fBirthDate, v); err != nil {
		return err
	}
	return nil
}

func date(f field, v map[byte][]byte) (string, error) {
	d, err := bcdDate(v[f.tag])
	if err != nil {
		return "", fmt.Errorf("%v: %w", f, err)
	}
	return d.Format(time.DateOnly), nil
}

// printable shows a one-byte code as its character when it is one, as
// card types usually are, and in hex otherwise.
func printable(b byte) string {
	if b > 0x20 && b < 0x7F {
		return string(rune(b))
	}
	return fmt.Sprintf("%02X", b)
}
