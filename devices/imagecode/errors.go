package imagecode

import "errors"

// Sentinel errors of a decode, wrapped with the detail.
var (
	// ErrNoCode: the picture holds no QR code that could be found. The
	// usual answer for a camera frame, and a cheap one.
	ErrNoCode = errors.New("no code in this image")
	// ErrUnreadable: something shaped like a QR code is there, but it does
	// not decode (blurred, cut off, damaged beyond its error correction).
	ErrUnreadable = errors.New("code in this image cannot be read")
	// ErrTooLarge: the file or the picture exceeds the configured bounds.
	ErrTooLarge = errors.New("image too large")
	// ErrFormat: the data is not a PNG or JPEG image.
	ErrFormat = errors.New("not a PNG or JPEG image")
	// ErrCorrupt: the data starts as a PNG or JPEG but does not decode.
	ErrCorrupt = errors.New("image data corrupt")
	// ErrInvalidLimits: a Limits field is out of range; the message names
	// it.
	ErrInvalidLimits = errors.New("invalid image limits")
)
