package transport

import "errors"

// Sentinel errors of the package.
var (
	// ErrConfig is a profile that cannot work as configured: an unknown
	// auth, a missing credential, a key that does not parse.
	ErrConfig = errors.New("transport configuration")
	// ErrToken is a failure to obtain an OAuth token from the gateway.
	ErrToken = errors.New("gateway token")
	// ErrSeal is a body that could not be protected or opened: a bad
	// ciphertext, a signature that does not verify.
	ErrSeal = errors.New("message protection")
	// ErrRefused is a request refused at the door by a verifier (the
	// sandbox's side of a profile).
	ErrRefused = errors.New("refused at the gateway")
)
