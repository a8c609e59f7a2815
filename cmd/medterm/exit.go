package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

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
	return codeOf(err)
}

// report ends a command as its flags ask: with --json the error is a JSON
// object on stdout (its code, the exit status, the message in both
// languages) for scripts; otherwise one line on stderr, in English alone
// with --lang en.
func report(root *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	code := codeOf(err)
	zh, en := messages(err)
	if j, _ := root.PersistentFlags().GetBool("json"); j {
		// An outcome already printed as JSON is the answer: a bill not
		// settled, a day that does not reconcile, a failed check.
		var dr errDoctor
		var ns notSettledError
		var ub errUnbalanced
		if errors.As(err, &dr) || errors.As(err, &ns) || errors.As(err, &ub) {
			return code
		}
		var body struct {
			Error struct {
				Code      string `json:"code"`
				Exit      int    `json:"exit"`
				Message   string `json:"message"`
				MessageZH string `json:"message_zh,omitempty"`
				MessageEN string `json:"message_en,omitempty"`
			} `json:"error"`
		}
		body.Error.Code, body.Error.Exit, body.Error.Message = errorName(err, code), code, err.Error()
		body.Error.MessageZH, body.Error.MessageEN = zh, en
		_ = printJSON(root.OutOrStdout(), body)
		return code
	}
	if lang, _ := root.PersistentFlags().GetString("lang"); lang == "en" && en != "" {
		fmt.Fprintln(root.ErrOrStderr(), "medterm:", en)
		return code
	}
	fmt.Fprintln(root.ErrOrStderr(), "medterm:", err)
	return code
}

// messages are what the cashier reads of err, when the API said it.
func messages(err error) (zh, en string) {
	var ae *api.APIError
	if errors.As(err, &ae) {
		return ae.MessageZH, ae.MessageEN
	}
	return "", ""
}

// errorName is the stable name of err in JSON: the API's code, or the
// class of the exit status.
func errorName(err error, code int) string {
	var ae *api.APIError
	if errors.As(err, &ae) && ae.Code != "" {
		return ae.Code
	}
	if name, ok := exitNames[code]; ok {
		return name
	}
	return "FAILURE"
}

// exitNames name the exit statuses in JSON errors.
var exitNames = map[int]string{exitUsage: "USAGE", exitDaemonDown: "DAEMON_DOWN", exitNotSettled: "NOT_SETTLED",
	exitInvalid: "INVALID_REQUEST", exitNotFound: "NOT_FOUND", exitConflict: "CONFLICT", exitJournal: "JOURNAL_UNAVAILABLE",
	exitUnbalanced: "UNBALANCED", exitDoctor: "CHECKS_FAILED", exitConfig: "CONFIG", exitInterrupted: "INTERRUPTED"}

// codeOf is the exit status of err.
func codeOf(err error) int {
	if strings.HasPrefix(err.Error(), "unknown command ") {
		return exitUsage // cobra's own: a mistyped command
	}
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
		// A refusal of the core (CARD_EXPIRED, CODE_REPLAYED,
		// OTHER_PATIENT, …) by its status.
		switch ae.Status {
		case http.StatusBadRequest:
			return exitInvalid
		case http.StatusNotFound:
			return exitNotFound
		case http.StatusConflict:
			return exitConflict
		}
	}
	return exitFailure
}
