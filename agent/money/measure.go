package money

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// A bill's lines are measured more finely than money: the national
// interface sends a quantity with four decimals (half a box is 0.5000) and
// a unit price in yuan with six (a tablet at 0.123456 yuan). Both are kept
// as exact integers of their smallest unit, and a line's amount in fen is
// computed from them exactly, rounding half up once at the end, as every
// HIS does for det_item_fee_sumamt.

// Quantity is a count in ten-thousandths: 5000 is 0.5.
type Quantity int64

// Price is a unit price in millionths of a yuan (0.0001 fen): 12500000 is
// 12.50 yuan.
type Price int64

// Bounds of a bill line. Nothing an outpatient bill holds comes near them;
// anything above is a corrupt or hostile message.
const (
	MaxQuantity Quantity = 10_000 * 10_000       // 10,000 units
	MaxPrice    Price    = 1_000_000 * 1_000_000 // 1,000,000 yuan
)

// Errors of the quantity and price parsers; they wrap ErrAmount.
var (
	ErrQuantity = fmt.Errorf("%w: quantity", ErrAmount)
	ErrPrice    = fmt.Errorf("%w: unit price", ErrAmount)
)

// ParseQuantity reads a decimal such as "2", "0.5" or "1.2500" exactly: at
// most four decimals, positive, at most MaxQuantity.
func ParseQuantity(s string) (Quantity, error) {
	v, err := parseScaled(s, 4)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrQuantity, err)
	}
	if v <= 0 || Quantity(v) > MaxQuantity {
		return 0, fmt.Errorf("%w: must be more than 0 and at most %s", ErrQuantity, MaxQuantity)
	}
	return Quantity(v), nil
}

// ParsePrice reads a decimal yuan price such as "12.5" or "0.123456"
// exactly: at most six decimals, positive, at most MaxPrice.
func ParsePrice(s string) (Price, error) {
	v, err := parseScaled(s, 6)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrPrice, err)
	}
	if v <= 0 || Price(v) > MaxPrice {
		return 0, fmt.Errorf("%w: must be more than 0 and at most %s", ErrPrice, MaxPrice)
	}
	return Price(v), nil
}

// PriceOfFen is a price of a whole number of fen.
func PriceOfFen(f Fen) Price { return Price(f) * 10_000 }

// QuantityOf is a whole number of units.
func QuantityOf(n int64) Quantity { return Quantity(n * 10_000) }

// LineAmount is quantity × price in fen, rounded half up (half away from
// zero), computed without overflow or float.
func LineAmount(q Quantity, p Price) Fen {
	// q is 10^-4 units and p 10^-6 yuan, so q·p is 10^-10 yuan and a fen
	// is 10^8 of those.
	prod := new(big.Int).Mul(big.NewInt(int64(q)), big.NewInt(int64(p)))
	neg := prod.Sign() < 0
	prod.Abs(prod)
	quo, rem := new(big.Int).QuoRem(prod, big.NewInt(100_000_000), new(big.Int))
	if rem.Cmp(big.NewInt(50_000_000)) >= 0 {
		quo.Add(quo, big.NewInt(1))
	}
	if neg {
		quo.Neg(quo)
	}
	return Fen(quo.Int64())
}

func (q Quantity) String() string { return formatScaled(int64(q), 4) }
func (p Price) String() string    { return formatScaled(int64(p), 6) }

// parseScaled reads a plain decimal with at most places decimals as an
// integer of 10^-places units.
func parseScaled(s string, places int) (int64, error) {
	if s == "" || strings.ContainsAny(s, "eE+ ") {
		return 0, errors.New("not a plain decimal")
	}
	neg := s[0] == '-'
	body := strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(body, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, errors.New("not a plain decimal")
	}
	if len(frac) > places {
		return 0, fmt.Errorf("more than %d decimal places", places)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 12 {
		return 0, errors.New("too large")
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

// MarshalJSON writes the quantity as a JSON number with its four decimals.
func (q Quantity) MarshalJSON() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalJSON reads a JSON number or a string holding one ("0.5"), as
// HIS programs send both, exactly. Zero is read as zero: whether a line
// may have it is the bill's validation to say, naming the line.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	v, err := parseScaled(unquoteNumber(b), 4)
	if err != nil || v < 0 || Quantity(v) > MaxQuantity {
		return fmt.Errorf("%w: a decimal from 0 to %s with at most four decimals", ErrQuantity, MaxQuantity)
	}
	*q = Quantity(v)
	return nil
}

// MarshalJSON writes the price as a JSON number with its six decimals.
func (p Price) MarshalJSON() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalJSON reads a JSON number or a string holding one ("12.50");
// zero as zero, as Quantity does.
func (p *Price) UnmarshalJSON(b []byte) error {
	v, err := parseScaled(unquoteNumber(b), 6)
	if err != nil || v < 0 || Price(v) > MaxPrice {
		return fmt.Errorf("%w: a decimal from 0 to %s yuan with at most six decimals", ErrPrice, MaxPrice)
	}
	*p = Price(v)
	return nil
}

// unquoteNumber is a JSON number's text, or a JSON string's content; any
// other JSON (null, an object) is returned as it is, for the parser to
// refuse.
func unquoteNumber(b []byte) string {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
