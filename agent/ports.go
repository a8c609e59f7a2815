package agent

import "context"

// Journal stores settlements durably. Every method that changes a
// settlement returns only after the change is synced to disk, so an answer
// given after a Journal call never promises more than the disk holds.
type Journal interface {
	// Accept stores s as a new settlement under s.IdempotencyKey, assigning
	// s.ID, and returns it with created true. prepare runs inside the same
	// durable transaction (to allocate msgids). If a settlement is already
	// stored under the key, Accept returns it with created false and does
	// not call prepare; if its Fingerprint differs from s's, the error is
	// ErrIdempotencyConflict.
	Accept(ctx context.Context, s *Settlement, prepare func(*Settlement, MsgidAllocator) error) (stored *Settlement, created bool, err error)

	// Update reads the settlement id, applies fn and stores the result, in
	// one durable transaction. If fn fails, nothing is stored.
	Update(ctx context.Context, id string, fn func(*Settlement, MsgidAllocator) error) (*Settlement, error)

	// Get returns a settlement, or ErrNotFound.
	Get(ctx context.Context, id string) (*Settlement, error)

	// ByKey returns the settlement stored under an idempotency key, or
	// ErrNotFound.
	ByKey(ctx context.Context, key string) (*Settlement, error)

	// List returns settlements matching f, newest first.
	List(ctx context.Context, f ListFilter) ([]*Settlement, error)

	// AllocateMsgid durably allocates one msgid outside any settlement, for
	// transactions that belong to none (sign-in, reconciliation).
	AllocateMsgid(ctx context.Context) (string, error)

	// Pseudonym is a stable keyed one-way name for a personal value, so
	// that bills can be grouped per patient without naming anyone.
	Pseudonym(value string) string

	// Fingerprint is a stable keyed digest of a request's content (which
	// holds personal data), stored to tell a resubmission of the same
	// bill from another bill under a reused key. Keyed, because a plain
	// digest of an ID number is reversed by trying every candidate.
	Fingerprint(request []byte) string

	// Value and SetValue keep named values across restarts (the policy
	// last fetched, the last reconciliation); Value returns ErrNotFound
	// for a name never set.
	Value(ctx context.Context, name string) ([]byte, error)
	SetValue(ctx context.Context, name string, value []byte) error
}

// MsgidAllocator hands out msgids inside a journal transaction: each one is
// durable when the transaction commits, before it is ever sent.
type MsgidAllocator interface {
	Next() (string, error)
}

// ListFilter selects settlements for List. Zero values match everything.
type ListFilter struct {
	States []State
	Limit  int
}
