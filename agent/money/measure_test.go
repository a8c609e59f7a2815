package money

import (
	"errors"
	"testing"
)

func TestLineAmountIsQuantityTimesPriceRoundedHalfUpOnce(t *testing.T) {
	for _, c := range []struct {
		qty, price string
		want       Fen
	}{
		{"2", "12.5", 2500},
		{"0.5", "33.79", 1690},     // 16.895 → 16.90
		{"3", "0.123456", 37},      // 0.370368 → 0.37
		{"1.2345", "0.333333", 41}, // 0.41149... → 0.41
		{"0.0001", "0.000001", 0},  // far below a fen
		{"10000", "1000000", 1e12}, // the bounds, without overflow
		{"1", "0.005", 1},          // exactly half a fen rounds up
		{"1", "0.004999", 0},
	} {
		q, err := ParseQuantity(c.qty)
		if err != nil {
			t.Fatalf("%s: %v", c.qty, err)
		}
		p, err := ParsePrice(c.price)
		if err != nil {
			t.Fatalf("%s: %v", c.price, err)
		}
		if got := LineAmount(q, p); got != c.want {
			t.Errorf("%s × %s = %d fen, want %d", c.qty, c.price, got, c.want)
		}
	}
}

func TestQuantitiesAndPricesAreReadExactly(t *testing.T) {
	for _, c := range []struct {
		s     string
		price bool
		want  int64
		err   error
	}{
		{s: "0.5", want: 5000},
		{s: "1.2500", want: 12500},
		{s: "0.12345", err: ErrQuantity},
		{s: "0", err: ErrQuantity},
		{s: "-1", err: ErrQuantity},
		{s: "1e2", err: ErrQuantity},
		{s: "10000.0001", err: ErrQuantity},
		{s: "12.5", price: true, want: 12_500_000},
		{s: "0.123456", price: true, want: 123_456},
		{s: "0.1234567", price: true, err: ErrPrice},
		{s: " 1", price: true, err: ErrPrice},
	} {
		var got int64
		var err error
		if c.price {
			var p Price
			p, err = ParsePrice(c.s)
			got = int64(p)
		} else {
			var q Quantity
			q, err = ParseQuantity(c.s)
			got = int64(q)
		}
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q: %v, want %v", c.s, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q = %d, %v; want %d", c.s, got, err, c.want)
		}
	}
	if s := Quantity(5000).String(); s != "0.5000" {
		t.Errorf("quantity string %q", s)
	}
	if s := Price(12_500_000).String(); s != "12.500000" {
		t.Errorf("price string %q", s)
	}
}
