package personas

import "errors"

// Sentinel errors of the data set. Every error returned wraps one of them.
var (
	// ErrInvalid is a data set that cannot be used: bad JSON, an unknown
	// field, or a value that breaks a rule (the message names the person
	// and the field).
	ErrInvalid = errors.New("invalid persona data")
	// ErrVersion is a data set of a format version this code does not read.
	ErrVersion = errors.New("unsupported persona data version")
)
