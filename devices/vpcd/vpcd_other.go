//go:build !linux

package vpcd

import (
	"context"
	"errors"
	"fmt"

	"github.com/seed-a859fada/medterm/devices/pcsc"
)

// ErrMissing: the virtual PC/SC stack (pcscd + vpcd) is Linux-only.
var ErrMissing = errors.New("the virtual PC/SC stack is not available")

// Slot is one vpcd reader.
type Slot struct {
	Name string
	Addr string
}

// Daemon is a pcscd started by this process (never, here).
type Daemon struct{}

// Stop does nothing.
func (*Daemon) Stop() error { return nil }

// Stack is the virtual stack (unavailable here).
type Stack struct {
	Reader     *pcsc.Reader
	Card, PSAM Slot
	Daemon     *Daemon
}

// Start fails: the demo's virtual card readers need pcscd and vpcd.
func Start(context.Context) (*Stack, error) {
	return nil, fmt.Errorf("%w: the virtual card readers (pcscd + vpcd) run on Linux only", ErrMissing)
}

// Close does nothing.
func (*Stack) Close() error { return nil }
