package apdu

import "fmt"

// Status words with a fixed meaning.
const (
	SWOK             uint16 = 0x9000
	SWWrongLength    uint16 = 0x6700
	SWSecurityStatus uint16 = 0x6982
	SWBlocked        uint16 = 0x6983
	SWConditions     uint16 = 0x6985
	SWFileNotFound   uint16 = 0x6A82
	SWRecordNotFound uint16 = 0x6A83
	SWWrongP1P2      uint16 = 0x6A86
	SWWrongClass     uint16 = 0x6E00
	// SWINSNotSupported is answered by cards for an instruction they do not
	// know; it has no sentinel of its own because no caller acts on it.
	SWINSNotSupported uint16 = 0x6D00
)

var known = map[uint16]error{
	SWWrongLength:    ErrWrongLength,
	SWSecurityStatus: ErrSecurityStatus,
	SWBlocked:        ErrBlocked,
	SWConditions:     ErrConditions,
	SWFileNotFound:   ErrFileNotFound,
	SWRecordNotFound: ErrRecordNotFound,
	SWWrongP1P2:      ErrWrongP1P2,
	SWWrongClass:     ErrWrongClass,
}

// StatusError is a status word other than 9000. Its message names the word
// and its meaning, so that a log line or an operator's screen says what the
// card refused without a lookup table.
type StatusError struct {
	SW uint16
}

// Status returns nil for 9000 and a *StatusError for anything else.
func Status(sw uint16) error {
	if sw == SWOK {
		return nil
	}
	return &StatusError{SW: sw}
}

func (e *StatusError) Error() string {
	if n, ok := e.TriesLeft(); ok {
		return fmt.Sprintf("status %04X: %v, %d tries left", e.SW, ErrVerifyFailed, n)
	}
	return fmt.Sprintf("status %04X: %v", e.SW, e.sentinel())
}

// Is matches the sentinel for the status word: ErrVerifyFailed for 63Cx,
// ErrUnknownStatus for words without a sentinel.
func (e *StatusError) Is(target error) bool { return target == e.sentinel() }

// TriesLeft reports x for a 63Cx answer (verification failed, x tries
// left).
func (e *StatusError) TriesLeft() (int, bool) {
	if e.SW&0xFFF0 == 0x63C0 {
		return int(e.SW & 0x000F), true
	}
	return 0, false
}

func (e *StatusError) sentinel() error {
	if _, ok := e.TriesLeft(); ok {
		return ErrVerifyFailed
	}
	if err, ok := known[e.SW]; ok {
		return err
	}
	return ErrUnknownStatus
}
