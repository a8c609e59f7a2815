// Package mask hides personal data for display and logs: ID numbers, names
// and card numbers are personal information under PIPL and are shown in
// full only when an operator explicitly asks.
package mask

import "unicode/utf8"

// IDNo keeps the region prefix (4) and the last 4 characters:
// 440101199001011234 becomes 4401**********1234.
func IDNo(s string) string { return keep(s, 4, 4) }

// Card keeps the last 4 characters of a card number or identifier.
func Card(s string) string { return keep(s, 0, 4) }

// PAN shows a bank account number (a card's PAN) as receipts do: the first
// and last four digits around a fixed mask, 6217 **** **** 0001, so that
// neither the hidden digits nor how many there are can be read off it.
// Anything shorter than 12 characters is not a PAN and is masked as a card
// number.
func PAN(s string) string {
	r := []rune(s)
	if len(r) < 12 {
		return Card(s)
	}
	return string(r[:4]) + " **** **** " + string(r[len(r)-4:])
}

// Name keeps the first character (the family name in most Chinese names)
// and hides the rest: 张三丰 becomes 张**.
func Name(s string) string { return keep(s, 1, 0) }

// keep shows head and tail runes and replaces the rest with '*'. Strings
// too short to hide anything meaningful are hidden entirely.
func keep(s string, head, tail int) string {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return ""
	}
	if n <= head+tail {
		head, tail = 0, 0
		if n > 1 {
			head = 1
		}
	}
	out := make([]rune, 0, n)
	i := 0
	for _, r := range s {
		if i < head || i >= n-tail {
			out = append(out, r)
		} else {
			out = append(out, '*')
		}
		i++
	}
	return string(out)
}
