// Package pan checks bank card and account numbers (PANs): the Luhn check
// digit that tells a mistyped or misread number from a real one. It
// depends on nothing else of the module, so the device packages use it
// too.
package pan

// Luhn reports whether s is all digits and its last digit is the Luhn
// check digit of the others.
func Luhn(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	for i := range len(s) {
		c := s[len(s)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
