package sscard

import (
	"fmt"
)

// provinces are the first two digits of GB/T 2260 region codes.
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// checkRegion accepts a 6-digit administrative region code of a known
// province.
func checkRegion(s string) error {
	if len(s) != 6 || !digits(s) || !provinces[s[:2]] {
		return fmt.Errorf("%w: %q", ErrBadRegion, s)
	}
	return nil
}

// checkIDNumber validates an 18-character resident ID number: region,
// birth date, sequence, and the ISO 7064 MOD 11-2 check character.
func checkIDNumber(s string) error {
	if len(s) != 18 || !digits(s[:17]) || !(s[17] == 'X' || (s[17] >= '0' && s[17] <= '9')) {
		return fmt.Errorf("%w: want 17 digits and a digit or X", ErrBadIDNumber)
	}
	// The messages name the part, never its digits: they may reach a log.
	if checkRegion(s[:6]) != nil {
		return fmt.Errorf("%w: unknown region", ErrBadIDNumber)
	}
	if _, err := parseDate(s[6:14]); err != nil {
		return fmt.Errorf("%w: birth date: %w", ErrBadIDNumber, err)
	}
	if idCheckChar(s[:17]) != s[17] {
		return ErrBadCheckDigit
	}
	return nil
}

// idCheckChar is ISO 7064 MOD 11-2 over 17 digits, as GB 11643 uses it.
func idCheckChar(s string) byte {
	sum, w := 0, 1
	for i := 16; i >= 0; i-- {
		w = w * 2 % 11
		sum += int(s[i]-'0') * w
	}
	return "10X98765432"[sum%11]
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
