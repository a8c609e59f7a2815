package pan

import "testing"

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"6222021234567890128": true, "6217000000198800017": true, "4111111111111111": true,
		"6222021234567890127": false, "": false, "6222 0212": false, "62220212345678901x8": false,
	} {
		if got := Luhn(s); got != want {
			t.Errorf("Luhn(%q) = %v, want %v", s, got, want)
		}
	}
}
