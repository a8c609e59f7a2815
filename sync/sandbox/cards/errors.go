package cards

import "errors"

// Sentinel errors of the patients' cards. Every error returned wraps one
// of them.
var (
	// ErrUnknownPersona: no persona has this key.
	ErrUnknownPersona = errors.New("unknown persona")
	// ErrNoCard: the persona has no social-security card, or the data set
	// cannot make it a virtual card (a 3.0 card without a PSAM key).
	ErrNoCard = errors.New("persona has no usable card")
	// ErrReader: no such card reader (readers are numbered from 0 in the
	// order they were configured), or none configured.
	ErrReader = errors.New("no such card reader")
	// ErrOccupied: the reader already holds a card; remove it first.
	ErrOccupied = errors.New("card reader occupied")
	// ErrEmpty: the reader holds no card.
	ErrEmpty = errors.New("card reader empty")
	// ErrFaults: a fault script that cannot be run.
	ErrFaults = errors.New("invalid card faults")
)
