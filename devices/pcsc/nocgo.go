//go:build !cgo && !windows

package pcsc

import (
	"context"
)

// Reader is the PC/SC card reader; in this build, without cgo, it only
// reports ErrNoCgo.
type Reader struct{}

// New returns a Reader whose every call fails with ErrNoCgo.
func New() *Reader { return &Reader{} }

// Readers fails with ErrNoCgo.
func (*Reader) Readers(context.Context) ([]string, error) { return nil, ErrNoCgo }

// WaitChange fails with ErrNoCgo.
func (*Reader) WaitChange(context.Context, []ReaderState) ([]ReaderState, error) {
	return nil, ErrNoCgo
}

// Connect fails with ErrNoCgo.
func (*Reader) Connect(context.Context, string) (Card, error) { return nil, ErrNoCgo }

// Close does nothing.
func (*Reader) Close() error { return nil }
