package money_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/agent/money"
)

func TestParseReadsDecimalYuanExactly(t *testing.T) {
	cases := []struct {
		in   string
		want money.Fen
	}{
		{"0", 0},
		{"0.00", 0},
		{"33.79", 3379},
		{"33.7", 3370},
		{"0.01", 1},
		{"0.1", 10},
		{"007.05", 705},
		{"-5", -500},
		{"-0.05", -5},
		{"10000000", money.Max},
		// Values that binary floating point cannot hold exactly.
		{"0.29", 29},
		{"1.15", 115},
		{"9999999.99", 999999999},
	}
	for _, c := range cases {
		got, err := money.Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestParseRejectsWhatIsNotAnAmount(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"1.234", money.ErrDecimals},
		{"1e3", money.ErrExponent},
		{"1E-2", money.ErrExponent},
		{"10000000.01", money.ErrTooLarge},
		{"123456789012345678901234567890", money.ErrTooLarge},
		{"", money.ErrNotADecimal},
		{"1.", money.ErrNotADecimal},
		{".5", money.ErrNotADecimal},
		{"+1", money.ErrNotADecimal},
		{"1,00", money.ErrNotADecimal},
		{"NaN", money.ErrNotADecimal},
		{"--1", money.ErrNotADecimal},
		{"1 ", money.ErrNotADecimal},
	}
	for _, c := range cases {
		_, err := money.Parse(c.in)
		if !errors.Is(err, c.want) || !errors.Is(err, money.ErrAmount) {
			t.Errorf("Parse(%q) error = %v; want %v", c.in, err, c.want)
		}
	}
	if _, err := money.ParseNonNegative("-0.01"); !errors.Is(err, money.ErrNegative) {
		t.Errorf("ParseNonNegative(-0.01) = %v; want ErrNegative", err)
	}
}

func TestStringFormatsTwoDecimals(t *testing.T) {
	for f, want := range map[money.Fen]string{0: "0.00", 5: "0.05", 3379: "33.79", -5: "-0.05", -12345: "-123.45", money.CNY(300): "300.00"} {
		if got := f.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int64(f), got, want)
		}
	}
}

func TestPercentFloorsAndRemainderBalances(t *testing.T) {
	total := money.Fen(3379)
	fund := total.Percent(70)
	if fund != 2365 {
		t.Fatalf("70%% of 33.79 = %s; want 23.65", fund)
	}
	if self := total - fund; fund+self != total {
		t.Fatalf("parts do not add up")
	}
}

func TestDecimalJSONRoundTrip(t *testing.T) {
	var v struct {
		A money.Decimal `json:"a"`
	}
	if err := json.Unmarshal([]byte(`{"a":33.79}`), &v); err != nil || v.A.Fen() != 3379 {
		t.Fatalf("decode 33.79: %v %d", err, v.A)
	}
	out, err := json.Marshal(v)
	if err != nil || string(out) != `{"a":33.79}` {
		t.Fatalf("encode: %s %v", out, err)
	}
}

func TestDecimalJSONRejectsNonNumbers(t *testing.T) {
	for _, in := range []string{`{"a":"33.79"}`, `{"a":null}`, `{"a":1.001}`, `{"a":1e2}`, `{"a":true}`, `{"a":99999999999}`} {
		var v struct {
			A money.Decimal `json:"a"`
		}
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("decode %s: accepted as %d; want an error", in, v.A)
		}
	}
}
