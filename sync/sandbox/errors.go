package sandbox

import "errors"

// Sentinel errors of the platform. Every error returned wraps one of them.
var (
	// ErrState is a problem with the state file: unreadable, locked by
	// another process, written by a newer version, or corrupt.
	ErrState = errors.New("sandbox state")
	// ErrOptions is an Open or Listen call that cannot work as asked: no
	// personas for a fresh state file, no secrets, a non-loopback address.
	ErrOptions = errors.New("sandbox options")
	// ErrUnknownPersona: no persona of the data set has this key.
	ErrUnknownPersona = errors.New("unknown persona")
	// ErrNoPhone: the persona has no phone to show a code.
	ErrNoPhone = errors.New("persona has no phone")
)
