// Package qrterm shows a QR code the way a patient's phone would, for the
// sandbox that plays the phones: in a terminal, two module rows to a line
// with half-block characters, and as a PNG picture. Codes are encoded at
// error-correction level M, the level the credential format's size budget
// is stated for (a signed code fits version 10).
package qrterm

import (
	"errors"
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// ErrEncode is a text that does not fit a QR code.
var ErrEncode = errors.New("cannot encode as a QR code")

// Encode makes the QR code of text at level M.
func Encode(text string) (*qrcode.QRCode, error) {
	if text == "" {
		return nil, fmt.Errorf("%w: empty text", ErrEncode)
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	return q, nil
}

// Colours are set explicitly, dark modules black on a white ground, so the
// code scans whatever the terminal's own theme: a code drawn in the
// theme's colours comes out inverted on a dark one, and many scanners
// refuse inverted codes.
const (
	ansiColours = "\x1b[30;107m"
	ansiReset   = "\x1b[0m"
)

// Terminal draws the code of text, quiet zone included, for a terminal
// that shows ANSI colours and Unicode. Each line holds two rows of
// modules: the upper half block is the upper row.
func Terminal(text string) (string, error) {
	q, err := Encode(text)
	if err != nil {
		return "", err
	}
	bits := q.Bitmap() // true: a dark module
	var b strings.Builder
	for y := 0; y < len(bits); y += 2 {
		b.WriteString(ansiColours)
		for x := range bits[y] {
			upper := bits[y][x]
			lower := y+1 < len(bits) && bits[y+1][x] // below the last row: light
			b.WriteRune(halfBlock(upper, lower))
		}
		b.WriteString(ansiReset + "\n")
	}
	return b.String(), nil
}

// halfBlock draws two vertically stacked modules in the foreground
// (dark) colour.
func halfBlock(upper, lower bool) rune {
	switch {
	case upper && lower:
		return '█'
	case upper:
		return '▀'
	case lower:
		return '▄'
	}
	return ' '
}

// PNG is the code of text as a PNG picture, moduleSize pixels to a module
// (at least 1), quiet zone included.
func PNG(text string, moduleSize int) ([]byte, error) {
	q, err := Encode(text)
	if err != nil {
		return nil, err
	}
	png, err := q.PNG(-max(moduleSize, 1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	return png, nil
}
