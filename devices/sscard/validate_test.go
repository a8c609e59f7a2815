package sscard

import (
	"bytes"
	"errors"
	"testing"
)

func TestIDNumberValidation(t *testing.T) {
	cases := []struct {
		id   string
		want error
	}{
		{"11010519491231002X", nil}, // the example of GB 11643
		{"440106199003071231", nil},
		{"320102200002290013", nil}, // born on a leap day
		{"11010519491231002x", ErrBadIDNumber},
		{"110105194912310021", ErrBadCheckDigit},
		{"440106199003071230", ErrBadCheckDigit},
		{"32010220010229001X", ErrBadIDNumber}, // 2001 has no 29 February
		{"990106199003071231", ErrBadIDNumber}, // no province 99
		{"44010619900307123", ErrBadIDNumber},
		{"4401061990030712311", ErrBadIDNumber},
		{"", ErrBadIDNumber},
	}
	for _, c := range cases {
		if err := checkIDNumber(c.id); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%q: %v, want %v", c.id, err, c.want)
		}
	}
}

func TestBCD(t *testing.T) {
	cases := []struct {
		in     []byte
		padded bool
		want   string
		err    error
	}{
		{[]byte{0x44, 0x01, 0x06}, true, "440106", nil},
		{[]byte{0x44, 0x01, 0xFF}, true, "4401", nil},
		{[]byte{0x44, 0x0F, 0xFF}, true, "440", nil},
		{[]byte{0x44, 0xF1, 0xFF}, true, "", ErrBadBCD}, // a digit after padding
		{[]byte{0x44, 0x01, 0xFF}, false, "", ErrBadBCD},
		{[]byte{0x4A}, true, "", ErrBadBCD},
	}
	for _, c := range cases {
		got, err := bcdDigits(c.in, c.padded)
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%X padded=%v: %q %v, want %q %v", c.in, c.padded, got, err, c.want, c.err)
		}
	}
}

func TestHistoricalBytes(t *testing.T) {
	cases := []struct {
		name string
		atr  string
		want string
	}{
		{"TB1 TC1, 12 bytes", "3B6C0000535343320000000000012345", "535343320000000000012345"},
		{"no interface bytes", "3B0412345678", "12345678"},
		{"TD1 chains to TD2 (T=1, with TCK)", "3B94958131FE9F0102030455", "01020304"},
		{"count beyond the ATR", "3B0F1234", ""},
		{"TD1 missing", "3B80", ""},
		{"too short", "3B", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := historicalBytes(unhexT(c.atr))
			if !bytes.Equal(got, unhexT(c.want)) {
				t.Fatalf("%X, want %s", got, c.want)
			}
		})
	}
}

func TestReadCardBasKeepsTheStandardFieldOrder(t *testing.T) {
	id := &Identity{
		CardID: "440100D1560000050000000000012345", Region: "440100", Version: "3.00",
		IssueDate: "2020-01-15", ExpiryDate: "2030-01-15", CardNumber: "A12345678",
		IDNumber: "440106199003071231", Name: "张三", ATR: "3B6C0000535343330000000000012345",
	}
	want := "440100|440106199003071231|A12345678|440100D1560000050000000000012345|张三|" +
		"535343330000000000012345|3.00|20200115|20300115|T001|DEV01|"
	if got := id.ReadCardBas("T001", "DEV01"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
