package psam

import "errors"

var (
	// ErrBadRequest: an AuthRequest whose identifier or challenge has the
	// wrong size; nothing is sent to the PSAM.
	ErrBadRequest = errors.New("invalid authentication request")
	// ErrBadKey: a master or card key that is not a 16-byte SM4 key.
	ErrBadKey = errors.New("invalid SM4 key")
	// ErrBadCryptogram: the PSAM answered a cryptogram of the wrong size.
	ErrBadCryptogram = errors.New("PSAM returned a malformed cryptogram")
)
