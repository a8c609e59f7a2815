// Package idno validates resident identity numbers (GB 11643): 18
// characters, a 6-digit region, a birth date, a sequence and an ISO 7064
// MOD 11-2 check character. The card reader, the window CLI, the local API
// and the sandbox all check numbers the same way.
package idno

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by Check; all wrap ErrInvalid.
var (
	ErrInvalid    = errors.New("invalid ID number")
	ErrLength     = fmt.Errorf("%w: not 18 characters", ErrInvalid)
	ErrCharacters = fmt.Errorf("%w: only digits and a final X are allowed", ErrInvalid)
	ErrBirthDate  = fmt.Errorf("%w: no valid birth date", ErrInvalid)
	ErrCheckDigit = fmt.Errorf("%w: wrong check digit", ErrInvalid)
)

var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkChars = "10X98765432"

// CheckChar returns the ISO 7064 MOD 11-2 check character for the first 17
// digits of an ID number.
func CheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, ErrLength
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, ErrCharacters
		}
		sum += int(c-'0') * weights[i]
	}
	return checkChars[sum%11], nil
}

// Check validates an 18-character ID number. A lowercase x is refused:
// the platform matches numbers byte for byte.
func Check(s string) error {
	if len(s) != 18 {
		return ErrLength
	}
	want, err := CheckChar(s[:17])
	if err != nil {
		return err
	}
	if _, err := BirthDate(s); err != nil {
		return err
	}
	if s[17] != want {
		if s[17] != 'X' && (s[17] < '0' || s[17] > '9') {
			return ErrCharacters
		}
		return ErrCheckDigit
	}
	return nil
}

// BirthDate returns the birth date encoded in positions 7-14.
func BirthDate(s string) (time.Time, error) {
	if len(s) < 14 {
		return time.Time{}, ErrLength
	}
	t, err := time.Parse("20060102", s[6:14])
	if err != nil || t.Year() < 1850 {
		return time.Time{}, ErrBirthDate
	}
	return t, nil
}
