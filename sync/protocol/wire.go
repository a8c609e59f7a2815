package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/seed-a859fada/medterm/agent/money"
)

// The value types of the national interface as real gateways send them.
// A decimal field arrives as a JSON number, as a numeric string, as "" or
// as null, depending on the province and on the field (a real Hunan
// setldetail carries "" for every amount; a Hainan 1101 carries age 38.0).
// Every type here reads all of those exactly, digit by digit, with no float
// anywhere: extra decimals are accepted only when they are zeros, since
// "25.000000" is exactly 25.00 but "25.001" is not an amount in fen.

// Amount is money in yuan with two decimals (16,2), kept in fen. null and
// "" read as 0: where an absent amount must be told from a zero one, use
// OptAmount.
type Amount money.Fen

// Fen returns the amount in fen.
func (a Amount) Fen() money.Fen { return money.Fen(a) }

// MarshalJSON writes a bare JSON number with two decimals, "33.79".
func (a Amount) MarshalJSON() ([]byte, error) {
	if !money.Fen(a).Valid() {
		return nil, fmt.Errorf("%s: %w", money.Fen(a), money.ErrTooLarge)
	}
	return []byte(money.Fen(a).String()), nil
}

// UnmarshalJSON reads a number, a numeric string, "" or null.
func (a *Amount) UnmarshalJSON(b []byte) error {
	v, _, err := readScaled(b, 2, int64(money.Max))
	if err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	*a = Amount(v)
	return nil
}

// OptAmount is an Amount that remembers whether it was given: null, "" and
// an absent field are not set. It is for the amounts whose absence means
// "not stated" rather than zero (psn_part_amt, which is checked only when
// present).
type OptAmount struct {
	V   money.Fen
	Set bool
}

// Opt is a set OptAmount.
func Opt(f money.Fen) OptAmount { return OptAmount{V: f, Set: true} }

// MarshalJSON writes the amount, or null when it is not set.
func (a OptAmount) MarshalJSON() ([]byte, error) {
	if !a.Set {
		return []byte("null"), nil
	}
	return Amount(a.V).MarshalJSON()
}

// UnmarshalJSON reads a number, a numeric string, "" or null.
func (a *OptAmount) UnmarshalJSON(b []byte) error {
	v, set, err := readScaled(b, 2, int64(money.Max))
	if err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	*a = OptAmount{V: money.Fen(v), Set: set}
	return nil
}

// Cnt is a bill line's quantity (16,4), sent with four decimals
// ("0.5000": half a box).
type Cnt money.Quantity

// Quantity returns the count.
func (c Cnt) Quantity() money.Quantity { return money.Quantity(c) }

// MarshalJSON writes a bare number with four decimals.
func (c Cnt) MarshalJSON() ([]byte, error) { return []byte(money.Quantity(c).String()), nil }

// UnmarshalJSON reads a number, a numeric string, "" or null (0). The sign
// is kept: an inpatient refund line (2301) counts negative.
func (c *Cnt) UnmarshalJSON(b []byte) error {
	v, _, err := readScaled(b, 4, int64(money.MaxQuantity))
	if err != nil {
		return fmt.Errorf("cnt: %w", err)
	}
	*c = Cnt(v)
	return nil
}

// Pric is a unit price in yuan with six decimals (16,6).
type Pric money.Price

// Price returns the price.
func (p Pric) Price() money.Price { return money.Price(p) }

// MarshalJSON writes a bare number with six decimals.
func (p Pric) MarshalJSON() ([]byte, error) { return []byte(money.Price(p).String()), nil }

// UnmarshalJSON reads a number, a numeric string, "" or null (0).
func (p *Pric) UnmarshalJSON(b []byte) error {
	v, _, err := readScaled(b, 6, int64(money.MaxPrice))
	if err != nil {
		return fmt.Errorf("pric: %w", err)
	}
	*p = Pric(v)
	return nil
}

// Ratio is a proportion with four decimals (5,4), in ten-thousandths:
// selfpay_prop 0.1000 is 1000.
type Ratio int64

// MarshalJSON writes a bare number with four decimals.
func (r Ratio) MarshalJSON() ([]byte, error) { return []byte(formatScaled(int64(r), 4)), nil }

// UnmarshalJSON reads a number, a numeric string, "" or null (0).
func (r *Ratio) UnmarshalJSON(b []byte) error {
	v, _, err := readScaled(b, 4, 10_000)
	if err != nil {
		return fmt.Errorf("ratio: %w", err)
	}
	if v < 0 {
		return fmt.Errorf("%w: ratio: negative", ErrMalformed)
	}
	*r = Ratio(v)
	return nil
}

// Age is an age in tenths of a year (4,1): the specification's 36.8 is
// 368. Gateways send 35, 38.0, "35" or null (0).
type Age int

// Years returns the whole years.
func (a Age) Years() int { return int(a) / 10 }

// MarshalJSON writes a bare number with one decimal.
func (a Age) MarshalJSON() ([]byte, error) { return []byte(formatScaled(int64(a), 1)), nil }

// UnmarshalJSON reads a number, a numeric string, "" or null.
func (a *Age) UnmarshalJSON(b []byte) error {
	v, _, err := readScaled(b, 1, 2000)
	if err != nil {
		return fmt.Errorf("age: %w", err)
	}
	if v < 0 {
		return fmt.Errorf("%w: age: negative", ErrMalformed)
	}
	*a = Age(v)
	return nil
}

// OneOrMany is a multi-row node (insuinfo, idetinfo, result, setldetail)
// that some gateways and the specification's own samples send as a single
// object: an array, one object, or null (none) are all read.
type OneOrMany[T any] []T

// MarshalJSON writes an array, [] when empty.
func (m OneOrMany[T]) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]T(m))
}

// UnmarshalJSON reads an array, one object or null.
func (m *OneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*m = nil
		return nil
	case b[0] == '[':
		var list []T
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*m = list
		return nil
	case b[0] == '{':
		var one T
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*m = OneOrMany[T]{one}
		return nil
	}
	return fmt.Errorf("%w: a row node is neither an object nor an array", ErrMalformed)
}

// readScaled reads a decimal JSON value with at most places significant
// decimals as an integer of 10^-places units, bounded in magnitude by max.
// set is false for null and "".
func readScaled(b []byte, places int, max int64) (v int64, set bool, err error) {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return 0, false, nil
	}
	if strings.HasPrefix(s, `"`) {
		var text string
		if err := json.Unmarshal([]byte(s), &text); err != nil {
			return 0, false, fmt.Errorf("%w: %s", ErrMalformed, s)
		}
		s = strings.TrimSpace(text)
		if s == "" || s == "null" {
			return 0, false, nil
		}
	}
	v, err = parseDecimal(s, places)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %q: %v", ErrMalformed, s, err)
	}
	if v > max || v < -max {
		return 0, false, fmt.Errorf("%w: %q is out of range", ErrMalformed, s)
	}
	return v, true, nil
}

// parseDecimal reads a plain decimal ("-12.50", "3", "0.123400") exactly.
// Exponents, signs other than a leading minus, and non-zero digits beyond
// places are refused: reading them would round.
func parseDecimal(s string, places int) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(body, ".")
	if whole == "" || !digits(whole) || (hasDot && (frac == "" || !digits(frac))) {
		return 0, fmt.Errorf("not a plain decimal")
	}
	if len(frac) > places {
		if strings.Trim(frac[places:], "0") != "" {
			return 0, fmt.Errorf("more than %d decimal places", places)
		}
		frac = frac[:places]
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 12 {
		return 0, fmt.Errorf("too large")
	}
	var v int64
	for _, c := range whole + frac + strings.Repeat("0", places-len(frac)) {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func formatScaled(v int64, places int) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	unit := int64(1)
	for range places {
		unit *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, v/unit, places, v%unit)
}
