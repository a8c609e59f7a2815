package apdu

import "errors"

// Sentinel errors for the status words a reader meets in practice. A
// *StatusError matches the one for its status word with errors.Is, so the
// caller asks errors.Is(err, apdu.ErrSecurityStatus) without knowing bytes.
var (
	ErrWrongLength    = errors.New("wrong length")
	ErrSecurityStatus = errors.New("security status not satisfied")
	ErrBlocked        = errors.New("authentication method blocked")
	ErrConditions     = errors.New("conditions of use not satisfied")
	ErrFileNotFound   = errors.New("file or application not found")
	ErrRecordNotFound = errors.New("record not found")
	ErrWrongP1P2      = errors.New("incorrect parameters P1-P2")
	ErrWrongClass     = errors.New("class not supported")
	ErrVerifyFailed   = errors.New("verification failed")
	ErrUnknownStatus  = errors.New("unknown status word")

	// ErrShortResponse: the card answered fewer than the two status bytes.
	ErrShortResponse = errors.New("response shorter than a status word")
	// ErrChainTooLong: the card kept answering 61xx or 6Cxx past the bound.
	ErrChainTooLong = errors.New("too many GET RESPONSE or resend rounds")
	// ErrBadCommand: a command that cannot be encoded as a short APDU, or
	// bytes that are not one.
	ErrBadCommand = errors.New("malformed command APDU")
)
