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

	// Errors of the financial application's answers. They never fail a
	// read: the identity comes back with one of them in AccountErr, beside
	// the record errors above (ErrWrongTag, ErrTruncatedRecord, ErrBadBCD)
	// and the card's status words (package apdu). None of their messages
	// shows a digit of the account number.
	ErrBadTLV            = errors.New("malformed BER-TLV")
	ErrNotDebit          = errors.New("the application selected is not the UnionPay debit application")
	ErrNoAccountNo       = errors.New("record holds no account number (tag 5A or 57)")
	ErrBadAccountNo      = errors.New("account number is not 16 to 19 digits")
	ErrAccountCheckDigit = errors.New("account number check digit is wrong")
	ErrBadTrack2         = errors.New("track 2 equivalent data has no field separator")
	ErrAccountMismatch   = errors.New("tags 5A and 57 name different account numbers")

	// ErrCardExpired is returned with the identity read: the card is
	// genuine and readable, and whether an expired card is accepted is the
	// caller's decision. The message carries the date.
	ErrCardExpired = errors.New("card expired")
)
