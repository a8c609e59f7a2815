package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/config"
)

// Exit codes. Scripts branch on them; keep them stable.
const (
	exitOK          = 0
	exitFailure     = 1  // anything not listed below
	exitUsage       = 2  // bad flags or arguments
	exitDaemonDown  = 3  // the daemon is not running
	exitNotSettled  = 4  // the bill was declined, failed or is in doubt
	exitInvalid     = 5  // the request was refused as invalid
	exitNotFound    = 6  // no such settlement
	exitConflict    = 7  // not allowed now, or the key was used for another bill
	exitJournal     = 8  // the journal is locked or unavailable
	exitUnbalanced  = 9  // reconciliation found differences
	exitDoctor      = 10 // medterm doctor: a check failed
	exitConfig      = 78 // configuration error (sysexits EX_CONFIG)
	exitInterrupted = 130
)

// usageError marks a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// notSettledError is returned when a command completed but the bill did
// not settle.
type notSettledError struct{ state agent.State }

func (e notSettledError) Error() string { return fmt.Sprintf("the bill is %s, not settled", e.state) }

// exitCode prints err and returns the exit code: the one place where
// errors become exit codes.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "medterm:", err)
	var ue usageError
	var ae *api.APIError
	var ns notSettledError
	var ub errUnbalanced
	var dr errDoctor
	switch {
	case errors.As(err, &dr):
		return exitDoctor
	case errors.As(err, &ub):
		return exitUnbalanced
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ns):
		return exitNotSettled
	case errors.Is(err, api.ErrDaemonDown):
		return exitDaemonDown
	case errors.Is(err, config.ErrConfig):
		return exitConfig
	case errors.Is(err, agent.ErrJournalLocked), errors.Is(err, agent.ErrJournal):
		return exitJournal
	case errors.Is(err, agent.ErrNotFound):
		return exitNotFound
	case errors.As(err, &ae):
		switch ae.Code {
		case "INVALID_REQUEST", "MALFORMED_JSON", "DUPLICATE_KEY", "INVALID_ENCODING", "NUL_CHARACTER",
			"UNSUPPORTED_CHARSET", "UNSUPPORTED_MEDIA_TYPE", "BODY_TOO_LARGE":
			return exitInvalid
		case "NOT_FOUND":
			return exitNotFound
		case "CONFLICT", "IDEMPOTENCY_CONFLICT":
			return exitConflict
		case "JOURNAL_UNAVAILABLE":
			return exitJournal
		}
	}
	return exitFailure
}
