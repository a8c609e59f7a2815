package idno_test

import (
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/agent/idno"
)

func TestCheckAcceptsValidNumbers(t *testing.T) {
	// Check characters computed by hand from the MOD 11-2 weights,
	// including the X case.
	for _, s := range []string{"11010519491231002X", "440524188001010014", "441900199003071234"[:17] + mustCheck(t, "44190019900307123")} {
		if err := idno.Check(s); err != nil {
			t.Errorf("Check(%s) = %v; want nil", s, err)
		}
	}
}

func TestCheckRejectsEachKindOfError(t *testing.T) {
	cases := map[string]error{
		"11010519491231002":   idno.ErrLength,
		"11010519491231002X1": idno.ErrLength,
		"1101051949123100AX":  idno.ErrCharacters,
		"110105194912310021":  idno.ErrCheckDigit,
		"11010519491231002x":  idno.ErrCharacters,
		"110105194902300021":  idno.ErrBirthDate, // 30 February
	}
	for s, want := range cases {
		if err := idno.Check(s); !errors.Is(err, want) || !errors.Is(err, idno.ErrInvalid) {
			t.Errorf("Check(%s) = %v; want %v", s, err, want)
		}
	}
}

func mustCheck(t *testing.T, first17 string) string {
	t.Helper()
	c, err := idno.CheckChar(first17)
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}
