// Package journal is the agent's write-ahead journal: every settlement, the
// msgids allocated for it and each change of its state, stored in one bbolt
// file and synced to disk before anything is sent to the platform or
// answered to anyone. It implements agent.Journal.
//
// One process owns the file: the daemon opens it read-write and holds its
// lock; the CLI opens it read-only, and only while the daemon is down.
// Personal fields are sealed with SM4-GCM under a key kept in its own file,
// and every value derived from them (a request's fingerprint, a patient's
// pseudonym, a credential serial as an index key) is an HMAC-SM3 under
// keys derived from it (keyed.go), so the journal file alone identifies no
// patient, not even to someone trying every candidate.
package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/offline/seal"
)

// DefaultLockTimeout is how long Open waits for another process to release
// the file's lock when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// pageSize is the page size of the files this medterm makes (a file keeps
// the one it was made with until it is compacted). A record is about 700
// bytes, and bbolt splits a full page so as to leave two entries in the
// new one: a page of 4 KB, the system's, held four records, at most five,
// and ended up little more than half full. A page of 16 KB holds twenty,
// and is filled to 90% as the records are appended.
const pageSize = 16 << 10

// Options configures Open.
type Options struct {
	// KeyFile is the SM4 key that seals personal fields. It must live
	// outside the journal file (a backup of the journal alone then reveals
	// nobody); it is created with mode 0600 when a new journal is opened
	// and no key exists yet.
	KeyFile string
	// Institution is the 12-character fixmedins_code, the first part of
	// every msgid.
	Institution string
	// Slot is the terminal's slot within the institution, 0-99, which keeps
	// its msgids apart from every other terminal's.
	Slot int
	// IDPrefix starts every settlement id: "DESK01" gives ids like
	// "DESK01-00000042".
	IDPrefix string
	// Clock dates settlements and msgids; the wall clock if nil.
	Clock clock.Clock
	// LockTimeout bounds the wait for another process's lock;
	// DefaultLockTimeout if zero.
	LockTimeout time.Duration
	// ReadOnly opens the journal for inspection: no writes, no migration,
	// no key creation, and a shared lock that fails while the daemon holds
	// the file.
	ReadOnly bool
	// Logger receives open, key and migration events; slog.Default() if
	// nil. Personal data is never logged.
	Logger *slog.Logger
}

// Journal is a journal file opened by Open. Its methods are safe for
// concurrent use; writes are serialised by bbolt.
type Journal struct {
	db     *bolt.DB
	path   string
	opts   Options
	sealer *seal.Sealer
	// keys key every digest of personal data (keyed.go); derived from the
	// journal key so that they need no file of their own.
	keys   digestKeys
	log    *slog.Logger
	schema int
	// authenticated: every record's public fields are authenticated (the
	// v3 re-sealing is done); an unauthenticated record is then damage.
	authenticated bool
	// group commits concurrent writes together (group.go).
	group groupCommit
}

var _ agent.Journal = (*Journal)(nil)

// Open opens the journal at path, creating it (and its key) if it does not
// exist and opts is not ReadOnly, and brings its schema up to date.
func Open(path string, opts Options) (*Journal, error) {
	return open(path, opts, migrations)
}

func open(path string, opts Options, migs []migration) (*Journal, error) {
	if err := opts.validate(path); err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.ReadOnly {
		// bbolt would report a missing file as a bare ENOENT; the CLI's
		// user deserves to know which file was looked for.
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open %w file %s read-only: %w", agent.ErrJournal, path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open %w file: %w", agent.ErrJournal, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  opts.LockTimeout,
		ReadOnly: opts.ReadOnly,
		PageSize: pageSize,
	})
	if err != nil {
		return nil, openError(path, opts.LockTimeout, err)
	}
	j := &Journal{db: db, path: path, opts: opts, log: log.With("journal", path)}
	if err := j.init(migs); err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j.log.Info("journal opened", "schema", j.schema, "read_only", opts.ReadOnly)
	return j, nil
}

func openError(path string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("open %s: %w: another medterm process (the daemon) holds its lock; use the daemon's API, or stop the daemon first (waited %s)",
			path, agent.ErrJournalLocked, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum),
		// bbolt's error, untyped, for a file shorter than two pages of
		// the page size asked for, which no journal ever is.
		strings.Contains(err.Error(), "file size too small"):
		return fmt.Errorf("open %s: %w (%w)", path, ErrNotJournal, err)
	}
	return fmt.Errorf("open %w file: %w", agent.ErrJournal, err)
}

func (o Options) validate(path string) error {
	if o.KeyFile == "" {
		return fmt.Errorf("%w: KeyFile is required", ErrOptions)
	}
	if same, _ := samePath(o.KeyFile, path); same {
		return fmt.Errorf("%w: KeyFile must not be the journal file itself", ErrOptions)
	}
	if o.ReadOnly {
		return nil // no ids or msgids are made read-only
	}
	if !alnum(o.Institution) || len(o.Institution) != 12 {
		return fmt.Errorf("%w: Institution %q is not a 12-character fixmedins_code", ErrOptions, o.Institution)
	}
	if o.Slot < 0 || o.Slot > 99 {
		return fmt.Errorf("%w: Slot %d is outside 0-99", ErrOptions, o.Slot)
	}
	if n := len(o.IDPrefix); n == 0 || n > 32 || !idPrefixChars(o.IDPrefix) {
		return fmt.Errorf("%w: IDPrefix %q must be 1-32 letters, digits, '.', '_' or '-'", ErrOptions, o.IDPrefix)
	}
	return nil
}

func samePath(a, b string) (bool, error) {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	bb, err := filepath.Abs(b)
	if err != nil {
		return false, err
	}
	if aa == bb {
		return true, nil
	}
	ai, aerr := os.Stat(aa)
	bi, berr := os.Stat(bb)
	return aerr == nil && berr == nil && os.SameFile(ai, bi), nil
}

func alnum(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z') {
			return false
		}
	}
	return true
}

func idPrefixChars(s string) bool {
	for _, r := range s {
		if !alnum(string(r)) && r != '.' && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// ReadOnly reports whether the journal was opened read-only.
func (j *Journal) ReadOnly() bool { return j.opts.ReadOnly }

// Schema is the journal file's schema version.
func (j *Journal) Schema() int { return j.schema }

// Close releases the file and its lock. Transactions under way finish
// first.
func (j *Journal) Close() error {
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("close %w %s: %w", agent.ErrJournal, j.path, err)
	}
	return nil
}

// loadKey reads the journal's key; fresh tells whether the journal is new,
// the only case where a missing key may be created rather than reported.
func (j *Journal) loadKey(fresh bool) error {
	var (
		key     seal.Key
		created bool
		err     error
	)
	switch {
	case fresh:
		key, created, err = seal.LoadOrCreateKey(j.opts.KeyFile)
	default:
		key, err = seal.LoadKey(j.opts.KeyFile)
		if errors.Is(err, seal.ErrKeyMissing) {
			return fmt.Errorf("%w: the journal's personal fields are sealed with the key in %s, which is missing; restore it from its backup: %w",
				agent.ErrJournal, j.opts.KeyFile, err)
		}
	}
	if err != nil {
		return fmt.Errorf("%w key: %w", agent.ErrJournal, err)
	}
	if created {
		j.log.Warn("created a new journal key; back it up apart from the journal: without it the journal's personal fields cannot be read",
			"key_file", j.opts.KeyFile)
	}
	j.keys = deriveDigestKeys(key)
	j.sealer, err = seal.New(key)
	if err != nil {
		return fmt.Errorf("%w key: %w", agent.ErrJournal, err)
	}
	return nil
}

// read runs a read transaction, wrapping bbolt's own failures.
func (j *Journal) read(ctx context.Context, op string, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err := j.db.View(func(btx *bolt.Tx) error { return fn(j.wrap(btx)) })
	return classify(op, "read failed", err, nil)
}

// write runs fn in one durable transaction. callerErr is what fn returned
// from the caller's own function, passed through without being blamed on
// the journal.
func (j *Journal) write(ctx context.Context, op string, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if j.opts.ReadOnly {
		return fmt.Errorf("%s: %w", op, ErrReadOnly)
	}
	var callerErr error
	err := j.group.update(j.db, func(btx *bolt.Tx) error {
		t := j.wrap(btx)
		err := fn(t)
		callerErr = t.callerErr
		return err
	})
	err = classify(op, "write failed, nothing stored", err, callerErr)
	if err != nil && callerErr == nil && !errors.Is(err, agent.ErrNotFound) && !errors.Is(err, agent.ErrInvalid) && !errors.Is(err, agent.ErrIdempotencyConflict) && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w (%w)", err, agent.ErrNotStored)
	}
	return err
}

// classify leaves typed errors as they are and wraps anything else (I/O,
// a full disk, a closed database) as a journal failure.
func classify(op, what string, err, callerErr error) error {
	switch {
	case err == nil:
		return nil
	case callerErr != nil, // the transaction returned the caller's error as is
		errors.Is(err, agent.ErrJournal),
		errors.Is(err, agent.ErrNotFound),
		errors.Is(err, agent.ErrInvalid),
		errors.Is(err, agent.ErrIdempotencyConflict):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("%s: %w is closed", op, agent.ErrJournal)
	}
	return fmt.Errorf("%s: %w %s: %w", op, agent.ErrJournal, what, err)
}
