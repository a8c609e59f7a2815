package evoucher

import "errors"

// Sentinel errors of the package.
var (
	// ErrConfig is an adapter that cannot work as configured.
	ErrConfig = errors.New("e-voucher component configuration")
	// ErrAnswer is an answer that is not the component's, or lacks what
	// the adapter uses.
	ErrAnswer = errors.New("e-voucher component answer unusable")
	// ErrRefused is wrapped by every Refusal.
	ErrRefused = errors.New("e-voucher component refused")
)

// Refusal is the component's failure: its code and message (a code
// expired, used, unreadable). The message names no one.
type Refusal struct {
	Code    string
	Message string
}

func (e *Refusal) Error() string { return "ec.query refused (code " + e.Code + "): " + e.Message }
func (e *Refusal) Unwrap() error { return ErrRefused }
