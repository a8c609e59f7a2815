// Package money is the one representation of money in medterm: an integer
// number of fen (分, 0.01 CNY). There are no floats anywhere on the money
// path; decimal text from the platform is parsed exactly, digit by digit.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Fen is an amount in fen. It is signed because refunds and reversals carry
// negative amounts; callers that need a non-negative amount check it.
type Fen int64

// Max is the largest magnitude any amount may have: 10^9 fen (10 million
// CNY). Nothing a terminal handles comes near it, so anything above is a
// corrupt or hostile message, not a bill.
const Max Fen = 1_000_000_000

// CNY returns n whole yuan in fen, for tables and tests.
func CNY(n int64) Fen { return Fen(n * 100) }

// Errors returned by Parse. They wrap ErrAmount so callers can test for
// "any bad amount" with errors.Is.
var (
	ErrAmount      = errors.New("bad amount")
	ErrDecimals    = fmt.Errorf("%w: more than two decimal places", ErrAmount)
	ErrExponent    = fmt.Errorf("%w: exponent notation", ErrAmount)
	ErrNegative    = fmt.Errorf("%w: negative", ErrAmount)
	ErrTooLarge    = fmt.Errorf("%w: over 10^9 fen", ErrAmount)
	ErrNotADecimal = fmt.Errorf("%w: not a decimal number", ErrAmount)
)

// Parse reads a decimal yuan amount such as "33.79", "-5", "0.5" exactly.
// It rejects exponents, more than two decimals, magnitudes over Max, and
// anything that is not plain decimal digits. Negative values are accepted
// here; use ParseNonNegative where a negative amount is meaningless.
func Parse(s string) (Fen, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrNotADecimal)
	}
	if strings.ContainsAny(s, "eE") {
		return 0, fmt.Errorf("%q: %w", s, ErrExponent)
	}
	neg := false
	body := s
	if body[0] == '-' {
		neg, body = true, body[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || !allDigits(intPart) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("%q: %w", s, ErrNotADecimal)
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("%q: %w", s, ErrDecimals)
	}
	// Leading zeros are harmless; strip them so the length check below
	// measures magnitude, not formatting.
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 8 { // 10^8 yuan is already 10^10 fen
		return 0, fmt.Errorf("%q: %w", s, ErrTooLarge)
	}
	var yuan int64
	if intPart != "" {
		v, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, ErrNotADecimal)
		}
		yuan = v
	}
	frac += strings.Repeat("0", 2-len(frac))
	f, _ := strconv.ParseInt(frac, 10, 64) // two digits, cannot fail
	v := Fen(yuan*100 + f)
	if v > Max {
		return 0, fmt.Errorf("%q: %w", s, ErrTooLarge)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// ParseNonNegative is Parse for amounts that cannot be negative (a price,
// a bill total).
func ParseNonNegative(s string) (Fen, error) {
	v, err := Parse(s)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("%q: %w", s, ErrNegative)
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount as yuan with exactly two decimals: "33.79",
// "-0.05", "0.00".
func (f Fen) String() string {
	sign := ""
	v := int64(f)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// Valid reports whether the magnitude is within Max.
func (f Fen) Valid() bool { return f >= -Max && f <= Max }

// Percent returns f*pct/100 rounded down to the fen: the platform's rule
// for ratios, so that rounding always favours the payer of the remainder
// and the parts still add up exactly (the remainder is computed by
// subtraction, never by a second rounding).
func (f Fen) Percent(pct int64) Fen { return Fen(int64(f) * pct / 100) }

// Min returns the smaller of a and b.
func Min(a, b Fen) Fen {
	if a < b {
		return a
	}
	return b
}

// Max0 returns f, or 0 when f is negative.
func Max0(f Fen) Fen {
	if f < 0 {
		return 0
	}
	return f
}

// Decimal is an amount as it travels on the platform wire: a JSON number
// in yuan with at most two decimals. Decoding is exact and strict; a string
// where a number belongs is rejected.
type Decimal Fen

// MarshalJSON writes the amount as a bare JSON number, "33.79".
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !Fen(d).Valid() {
		return nil, fmt.Errorf("%s: %w", Fen(d), ErrTooLarge)
	}
	return []byte(Fen(d).String()), nil
}

// UnmarshalJSON accepts a JSON number only, parsed exactly.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return fmt.Errorf("%w: null", ErrNotADecimal)
	}
	if len(s) > 0 && s[0] == '"' {
		return fmt.Errorf("%w: a string where a number belongs", ErrNotADecimal)
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*d = Decimal(v)
	return nil
}

// Fen returns the amount in fen.
func (d Decimal) Fen() Fen { return Fen(d) }
