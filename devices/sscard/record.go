package sscard

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// field is one item of EF05 or EF06: its tag, its fixed length, and what
// it is called in errors.
type field struct {
	sfi  byte
	tag  byte
	size int
	name string
}

var (
	fCardID      = field{5, 0x01, 16, "card identifier"}
	fCardType    = field{5, 0x02, 1, "card type"}
	fVersion     = field{5, 0x03, 4, "spec version"}
	fInstitution = field{5, 0x04, 12, "issuing institution"}
	fIssueDate   = field{5, 0x05, 4, "issue date"}
	fExpiryDate  = field{5, 0x06, 4, "expiry date"}
	fCardNumber  = field{5, 0x07, 9, "card number"}
	fIDNumber    = field{6, 0x08, 18, "ID number"}
	fName        = field{6, 0x09, 30, "name"}
	fNameExt     = field{6, 0x4E, 20, "name extension"}
	fGender      = field{6, 0x0A, 1, "gender"}
	fEthnicity   = field{6, 0x0B, 1, "ethnicity"}
	fBirthplace  = field{6, 0x0C, 3, "birthplace"}
	fBirthDate   = field{6, 0x0D, 4, "birth date"}

	ef05Fields = []field{fCardID, fCardType, fVersion, fInstitution, fIssueDate, fExpiryDate, fCardNumber}
	// EF06 without the name extension, which only 2.0 and 3.0 cards have.
	ef06Fields = []field{fIDNumber, fName, fGender, fEthnicity, fBirthplace, fBirthDate}

	fieldsByTag = func() map[byte]field {
		m := map[byte]field{}
		for _, f := range append(append([]field{fNameExt}, ef05Fields...), ef06Fields...) {
			m[f.tag] = f
		}
		return m
	}()
)

func (f field) String() string { return fmt.Sprintf("EF%02X tag %02X (%s)", f.sfi, f.tag, f.name) }

// parseRecord checks a record read by tag (tag, length, value) against its
// field and returns the value.
func parseRecord(f field, rec []byte) ([]byte, error) {
	if len(rec) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTruncatedRecord, len(rec))
	}
	if rec[0] != f.tag {
		return nil, fmt.Errorf("%w: %02X", ErrWrongTag, rec[0])
	}
	if int(rec[1]) != f.size {
		return nil, fmt.Errorf("%w: %d, want %d", ErrLengthByte, rec[1], f.size)
	}
	switch n := len(rec) - 2; {
	case n < f.size:
		return nil, fmt.Errorf("%w: %d of %d value bytes", ErrTruncatedRecord, n, f.size)
	case n > f.size:
		return nil, fmt.Errorf("%w: %d value bytes after a length of %d", ErrLengthByte, n, f.size)
	}
	return rec[2:], nil
}

// bcdDigits unpacks BCD. Trailing F nibbles are padding and are dropped
// when padded is true; any other nibble above 9 is an error.
func bcdDigits(b []byte, padded bool) (string, error) {
	var s strings.Builder
	end := false
	for i, x := range b {
		for _, n := range [2]byte{x >> 4, x & 0x0F} {
			switch {
			case n == 0xF && padded:
				end = true
			case n > 9 || end:
				// The position, not the bytes: they may be a birth date.
				return "", fmt.Errorf("%w: nibble %X in byte %d", ErrBadBCD, n, i+1)
			default:
				s.WriteByte('0' + n)
			}
		}
	}
	return s.String(), nil
}

// bcdDate decodes a 4-byte BCD YYYYMMDD into a real date.
func bcdDate(b []byte) (time.Time, error) {
	s, err := bcdDigits(b, false)
	if err != nil {
		return time.Time{}, err
	}
	return parseDate(s)
}

// parseDate accepts YYYYMMDD only if it names a day that exists.
func parseDate(s string) (time.Time, error) {
	d, err := time.Parse("20060102", s)
	if err != nil || d.Year() < 1900 {
		return time.Time{}, ErrBadDate // no value: it may be a birth date
	}
	return d, nil
}

// text decodes a 00-padded ASCII item; only printable ASCII is allowed.
func text(b []byte) (string, error) {
	b = bytes.TrimRight(b, "\x00")
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return "", fmt.Errorf("%w: byte %02X", ErrBadText, c)
		}
	}
	return strings.TrimSpace(string(b)), nil
}

// decodeName joins the name and its extension (a character may straddle
// them), drops the 00 padding and decodes GB18030, a superset of GBK that
// also covers rare characters in personal names.
func decodeName(raw []byte) (string, error) {
	raw = bytes.TrimRight(raw, "\x00")
	if len(raw) == 0 || bytes.IndexByte(raw, 0) >= 0 {
		return "", fmt.Errorf("%w: empty or 00 inside", ErrBadName)
	}
	b, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadName, err)
	}
	s := strings.TrimSpace(string(b))
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return "", fmt.Errorf("%w: invalid sequence", ErrBadName)
		}
	}
	if s == "" {
		return "", fmt.Errorf("%w: blank", ErrBadName)
	}
	return s, nil
}
