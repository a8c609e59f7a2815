package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/seed-a859fada/medterm/agent"
)

// Stable error codes of the local API. A HIS branches on these; the
// OpenAPI document lists them all (a test holds it to this block).
const (
	codeForbiddenHost   = "forbidden_host"
	codeForbiddenOrigin = "forbidden_origin"
	codeUnauthorized    = "unauthorized"
	codeInvalid         = "invalid_request"
	codeBadJSON         = "malformed_json"
	codeTooLarge        = "body_too_large"
	codeMediaType       = "unsupported_media_type"
	codeNotFound        = "not_found"
	codeIdemConflict    = "idempotency_conflict"
	codeConflict        = "conflict"
	codeJournal         = "journal_unavailable"
	codeNotRecorded     = "outcome_not_recorded"
	codeInternal        = "internal"
	codeMethod          = "method_not_allowed"
	codeCharset         = "unsupported_charset"
	codeDuplicateKey    = "duplicate_key"
	codeEncoding        = "invalid_encoding"
	codeNUL             = "nul_character"
	codeReconcile       = "reconcile_failed"
	codeNoCode          = "no_code"
	codeUnreadableImage = "unreadable_image"
)

// ErrorBody is every error answer: a stable code and a message for people.
// Messages never contain personal data.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

// writeErr maps a core error to its status and code: the one place where
// that mapping lives.
func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, agent.ErrUnknownReader):
		// The core's message quotes the reader name the caller sent.
		writeError(w, http.StatusBadRequest, codeInvalid, "identity.card_reader: no such card reader on this terminal (GET /v1/cards lists them)")
	case errors.Is(err, agent.ErrInvalid):
		writeError(w, http.StatusBadRequest, codeInvalid, err.Error())
	case errors.Is(err, agent.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, agent.ErrIdempotencyConflict):
		writeError(w, http.StatusConflict, codeIdemConflict, err.Error())
	case errors.Is(err, agent.ErrConflict):
		writeError(w, http.StatusConflict, codeConflict, err.Error())
	case errors.Is(err, agent.ErrNotAccepted):
		writeError(w, http.StatusServiceUnavailable, codeJournal, "the journal could not store this bill; nothing was accepted or sent: "+err.Error())
	case errors.Is(err, agent.ErrNotRecorded):
		writeError(w, http.StatusServiceUnavailable, codeNotRecorded, "the bill was accepted, but its latest outcome could not be recorded; submit it again under the same key to learn where it stands: "+err.Error())
	case errors.Is(err, agent.ErrJournal), errors.Is(err, agent.ErrJournalLocked):
		writeError(w, http.StatusServiceUnavailable, codeJournal, "the journal could not be read or written: "+err.Error())
	default:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
