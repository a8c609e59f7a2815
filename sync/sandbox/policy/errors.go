package policy

import "errors"

// Sentinel errors of the rules. Every error returned by this package wraps
// one of them.
var (
	// ErrItem is a fee item the rules cannot price: an unknown class, a
	// non-positive amount.
	ErrItem = errors.New("fee item")
	// ErrRules is a rule set that cannot be applied: an unknown insurance
	// type, a ratio out of range, a negative amount.
	ErrRules = errors.New("policy rules")
)
