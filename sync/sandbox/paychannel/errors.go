package paychannel

import "errors"

// Sentinel errors of the channel. Every error returned wraps one of them.
var (
	// ErrData is an agreements file that cannot be used; the message names
	// the patient (by persona key) and the field.
	ErrData = errors.New("invalid payment channel data")
	// ErrState is a problem with the state file: unreadable, locked by
	// another process, written by a newer version.
	ErrState = errors.New("payment channel state")
	// ErrOptions is an Open call that cannot work as asked: no channel key,
	// no merchant.
	ErrOptions = errors.New("payment channel options")
)
