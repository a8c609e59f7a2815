package journal

import (
	"errors"
	"fmt"

	"github.com/seed-a859fada/medterm/agent"
)

// Sentinel errors of the journal. Each but ErrOptions (a mistake in the
// configuration, found before any file is touched) wraps agent.ErrJournal,
// so the API and the CLI map any of them with one errors.Is; callers that
// need to act on the reason test for the specific one. A lock held by
// another process is agent.ErrJournalLocked, a missing settlement
// agent.ErrNotFound, and a reused idempotency key
// agent.ErrIdempotencyConflict.
var (
	// ErrOptions: Open was given options it cannot work with.
	ErrOptions = errors.New("invalid journal options")
	// ErrReadOnly: a write on a journal opened read-only.
	ErrReadOnly = fmt.Errorf("%w opened read-only: writes go through the daemon", agent.ErrJournal)
	// ErrNotJournal: the file is not a medterm journal, or is damaged
	// beyond what bbolt can read.
	ErrNotJournal = fmt.Errorf("%w: not a medterm journal file", agent.ErrJournal)
	// ErrSchemaTooNew: the file was written by a newer medterm; this one
	// must not touch it.
	ErrSchemaTooNew = fmt.Errorf("%w schema is newer than this medterm knows", agent.ErrJournal)
	// ErrSchemaOld: a read-only open of a journal that needs a migration,
	// which only a read-write open may run.
	ErrSchemaOld = fmt.Errorf("%w schema needs a migration", agent.ErrJournal)
	// ErrWrongKey: the key file holds a key, but not the one this
	// journal's personal fields were sealed with.
	ErrWrongKey = fmt.Errorf("%w key does not match this journal", agent.ErrJournal)
	// ErrCorrupt: a stored record or index does not decode or
	// authenticate.
	ErrCorrupt = fmt.Errorf("%w record corrupt", agent.ErrJournal)
	// ErrAllocatorDone: a MsgidAllocator used after its transaction ended,
	// when a msgid could no longer be made durable with it.
	ErrAllocatorDone = fmt.Errorf("%w: msgid allocator used outside its transaction", agent.ErrJournal)
)
