package strictjson

import (
	"errors"
	"fmt"
	"strconv"
)

// What a strict reader refuses. Each error Check returns is an *Error
// wrapping one of these, so callers branch with errors.Is.
var (
	ErrSyntax       = errors.New("not valid JSON")
	ErrEmpty        = errors.New("empty document")
	ErrTrailingData = errors.New("data after the JSON value")
	ErrTooDeep      = errors.New("nested too deeply")
	ErrDuplicateKey = errors.New("key appears twice in one object")
	ErrUnknownField = errors.New("unknown field")
	// ErrKeyCase is an unknown field that a case-insensitive reader would
	// have taken for a known one: encoding/json would have.
	ErrKeyCase     = fmt.Errorf("%w: differs from the field name in case only (keys are case-sensitive)", ErrUnknownField)
	ErrInvalidUTF8 = errors.New("not valid UTF-8")
	ErrNUL         = errors.New("contains NUL (\\u0000)")
	ErrType        = errors.New("wrong type")
)

// Error says what was refused and where. It never holds the document's
// content: Path is built from field names of the target type and array
// indices only, so that a message cannot carry personal data to a log.
type Error struct {
	// Path is where the problem is, as a JSON path: "bill.items[2].name";
	// empty for the document as a whole. Members of a map or of an
	// untyped value are "*".
	Path string
	// Offset is the byte offset in the document where it was found.
	Offset int
	// Err is one of the sentinels above.
	Err error
	// Want says what was expected: a type ("a string") for ErrType, the
	// field names allowed there for ErrUnknownField.
	Want string
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Want != "" {
		msg += ": expected " + e.Want
	}
	if e.Path == "" {
		return msg + " (at byte " + strconv.Itoa(e.Offset) + ")"
	}
	return e.Path + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }
