package agent

import "errors"

// Sentinel errors of the core. The API and the CLI map them to HTTP
// statuses and exit codes in one place each; everything else wraps them.
var (
	ErrNotFound            = errors.New("not found")
	ErrIdempotencyConflict = errors.New("idempotency key already used for a different request")
	ErrInvalid             = errors.New("invalid request")
	ErrConflict            = errors.New("not allowed in the settlement's current state")
	ErrUnreachable         = errors.New("platform unreachable")
	ErrInDoubt             = errors.New("platform answer lost: outcome unknown")
	ErrUnbalanced          = errors.New("platform answer does not balance")
	ErrJournalLocked       = errors.New("journal is locked by another process")
	ErrJournal             = errors.New("journal")
	// ErrNotStored marks a journal write that failed and stored nothing
	// (a full disk, an I/O error), as opposed to a read that failed.
	ErrNotStored = errors.New("nothing stored")
	// ErrNotAccepted: the journal could not store a new bill; nothing was
	// sent and nothing is owed. It wraps the journal's error.
	ErrNotAccepted = errors.New("the bill could not be stored, so nothing was accepted")
	// ErrNotRecorded: the bill is stored, but a later step's outcome (the
	// platform's answer, a state change) could not be written. Submitting
	// again under the same key picks it up from where the journal has it.
	ErrNotRecorded = errors.New("the bill is stored but its latest outcome could not be recorded")
)

// ErrReplayed is a dynamic code whose counter is not above the highest
// already seen for its credential.
var ErrReplayed = errors.New("code already used")
