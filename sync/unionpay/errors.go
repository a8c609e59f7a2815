package unionpay

import (
	"errors"
	"fmt"
)

// Sentinel errors of the adapter. Every error returned wraps one of them or
// one of the agent's (ErrUnreachable, ErrInDoubt, ErrNoAgreement,
// ErrInvalid, ErrNotFound, ErrIdempotencyConflict).
var (
	// ErrConfig is a [payment] section that cannot work; the message names
	// the field.
	ErrConfig = errors.New("payment channel configuration")
	// ErrDisabled: the section says enabled = false, so no client is made
	// and the patient's part is collected at the window.
	ErrDisabled = errors.New("payment channel disabled")
	// ErrBadSignature is an answer that the channel's key does not verify:
	// tampered with, or not from the channel. Nothing in it is believed.
	ErrBadSignature = errors.New("payment channel answer not signed by the channel")
	// ErrMalformed is a signed answer that contradicts its request (another
	// order, another amount) or lacks what its outcome needs. Nothing in it
	// is believed.
	ErrMalformed = errors.New("payment channel answer malformed")
	// ErrRefused is the channel refusing a request that is not a payment:
	// an agreement call, a query, a statement. It comes as a *RespError.
	ErrRefused = errors.New("payment channel refused the request")
	// ErrNoStatement: the channel has no statement file for the day (respCode
	// 98), which is not the same as a day without transactions.
	ErrNoStatement = errors.New("no payment statement for the day")
)

// RespError is a refusal the channel answered with its code and words.
type RespError struct {
	Op   string // the operation: "sign", "query", ...
	Code string // respCode
	Msg  string // respMsg, the channel's words
	// Kind is the agent's sentinel the refusal also counts as (ErrInvalid
	// for a refused sign, ErrNotFound for an unknown agreement), or nil.
	Kind error
}

func (e *RespError) Error() string {
	return fmt.Sprintf("%s: the channel refused (respCode %s: %s)", e.Op, e.Code, e.Msg)
}

// Unwrap makes errors.Is see ErrRefused and Kind.
func (e *RespError) Unwrap() []error {
	if e.Kind != nil {
		return []error{ErrRefused, e.Kind}
	}
	return []error{ErrRefused}
}
