package base45

import "errors"

// Errors of decoding; each is wrapped with the position it was found at.
var (
	// ErrLength is a text whose length is 1 more than a multiple of 3: a
	// lone character encodes nothing.
	ErrLength = errors.New("length is not a Base45 length")
	// ErrCharacter is a character outside the Base45 alphabet (lower-case
	// letters included).
	ErrCharacter = errors.New("character outside the Base45 alphabet")
	// ErrOverflow is a group of 3 characters above 65535, or of 2
	// characters above 255.
	ErrOverflow = errors.New("group value too large for its bytes")
)
