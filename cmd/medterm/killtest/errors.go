package killtest

import "errors"

var (
	// ErrNoGo means the go command was not found to build the daemon.
	ErrNoGo = errors.New("the go command is not on PATH: the kill test builds the real medterm binary with it")
	// ErrNotHealthy means the daemon did not answer /v1/health in time.
	ErrNotHealthy = errors.New("the daemon did not answer its health check")
	// ErrExited means the daemon ended by itself (nobody killed it).
	ErrExited = errors.New("the daemon exited by itself")
	// ErrMismatch is a difference between what the clients were told and
	// what the platform booked.
	ErrMismatch = errors.New("agent and platform disagree")
)
