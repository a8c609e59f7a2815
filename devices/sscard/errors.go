package sscard

import "errors"

// Errors of a card read. Malformed records and invalid values are wrapped
// with the file, tag and field they were found in.
var (
	ErrTruncatedRecord = errors.New("record truncated")
	ErrWrongTag        = errors.New("record has the wrong tag")
	ErrLengthByte      = errors.New("record length byte does not match the field")
	ErrBadBCD          = errors.New("invalid BCD digit")
	ErrBadDate         = errors.New("not a real date")
	ErrBadText         = errors.New("invalid characters")
	ErrBadName         = errors.New("name does not decode as GB18030")
	ErrBadIDNumber     = errors.New("malformed ID number")
	ErrBadCheckDigit   = errors.New("ID number check digit is wrong")
	ErrBadRegion       = errors.New("unknown region code")
	ErrBadCardID       = errors.New("malformed card identifier")
	ErrBadGender       = errors.New("unknown gender code")
	ErrUnsupported     = errors.New("unsupported card version")

	// ErrNoSecureModule: a 3.0 card needs a secure module and none is
	// configured.
	ErrNoSecureModule = errors.New("3rd-generation card needs a secure module (PSAM)")

	// ErrCardExpired is returned with the identity read: the card is
	// genuine and readable, and whether an expired card is accepted is the
	// caller's decision. The message carries the date.
	ErrCardExpired = errors.New("card expired")
)
