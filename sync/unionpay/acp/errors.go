package acp

import "errors"

// Sentinel errors of the wire format. Every error returned wraps one.
var (
	// ErrFormat is a message that cannot be read: a bad form body, a field
	// given twice, an ambiguous value, a bad bag, time or file.
	ErrFormat = errors.New("acp format")
	// ErrUnsigned is a message without a signature.
	ErrUnsigned = errors.New("acp message unsigned")
	// ErrSignature is a signature that no trusted key verifies.
	ErrSignature = errors.New("acp signature does not verify")
	// ErrKey is a key that cannot be used: not PEM, not SM2, not the kind
	// asked for.
	ErrKey = errors.New("acp key")
)
