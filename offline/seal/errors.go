package seal

import "errors"

// Sentinel errors of the seal package. Every error it returns wraps one of
// them, so callers can tell a missing key from a wrong one.
var (
	// ErrKeyMissing: the key file does not exist.
	ErrKeyMissing = errors.New("key file missing")
	// ErrKeyExposed: the key file can be read by users other than its
	// owner, so the data it protects may already be exposed.
	ErrKeyExposed = errors.New("key file readable by group or others")
	// ErrKeyMalformed: the key file is not exactly KeySize bytes.
	ErrKeyMalformed = errors.New("key file malformed")
	// ErrAuth: sealed data did not authenticate: it was sealed with another
	// key, for another record, or altered since.
	ErrAuth = errors.New("sealed data failed authentication (wrong key or altered data)")
)
