// Package base45 is the Base45 encoding of RFC 9285: binary data as text in
// the 45-character set of the QR code's alphanumeric mode, so that a QR
// code carries 2 bytes in 3 characters (16.5 bits) instead of the 8 bits per
// byte of byte mode. The decoder is strict: every text it accepts is the
// one encoding of its bytes. It is written here rather than imported
// because the RFC is a page long and no maintained module for it was
// available to the project.
package base45

import "fmt"

// Alphabet is the RFC 9285 character set, in value order; it is exactly the
// QR alphanumeric character set.
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(Alphabet) {
		t[Alphabet[i]] = int8(i)
	}
	return t
}()

// EncodedLen is the length of the encoding of n bytes.
func EncodedLen(n int) int { return n/2*3 + n%2*2 }

// DecodedLen is the length of the bytes that a text of n characters
// decodes to, or -1 when no encoding has n characters (n mod 3 = 1).
func DecodedLen(n int) int {
	if n%3 == 1 {
		return -1
	}
	return n/3*2 + n%3/2
}

// AppendEncode appends the encoding of src to dst.
func AppendEncode(dst, src []byte) []byte {
	for len(src) >= 2 {
		n := int(src[0])<<8 | int(src[1])
		dst = append(dst, Alphabet[n%45], Alphabet[n/45%45], Alphabet[n/(45*45)])
		src = src[2:]
	}
	if len(src) == 1 {
		n := int(src[0])
		dst = append(dst, Alphabet[n%45], Alphabet[n/45])
	}
	return dst
}

// EncodeToString returns the encoding of src.
func EncodeToString(src []byte) string {
	return string(AppendEncode(make([]byte, 0, EncodedLen(len(src))), src))
}

// AppendDecode appends the bytes that src encodes to dst. It refuses a
// character outside the alphabet, a group whose value does not fit its
// bytes, and a lone trailing character, and says at which position.
func AppendDecode(dst []byte, src string) ([]byte, error) {
	if DecodedLen(len(src)) < 0 {
		return dst, fmt.Errorf("base45: %d characters: %w", len(src), ErrLength)
	}
	for i := 0; i < len(src); i += 3 {
		k := min(3, len(src)-i)
		n := 0
		for j := k - 1; j >= 0; j-- {
			v := values[src[i+j]]
			if v < 0 {
				return dst, fmt.Errorf("base45: position %d: %w", i+j, ErrCharacter)
			}
			n = n*45 + int(v)
		}
		if k == 3 {
			if n > 0xffff {
				return dst, fmt.Errorf("base45: group at position %d: %w", i, ErrOverflow)
			}
			dst = append(dst, byte(n>>8), byte(n))
			continue
		}
		if n > 0xff {
			return dst, fmt.Errorf("base45: group at position %d: %w", i, ErrOverflow)
		}
		dst = append(dst, byte(n))
	}
	return dst, nil
}

// DecodeString returns the bytes that s encodes.
func DecodeString(s string) ([]byte, error) {
	n := DecodedLen(len(s))
	if n < 0 {
		n = 0
	}
	return AppendDecode(make([]byte, 0, n), s)
}
