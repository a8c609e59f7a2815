package faultproxy

import "errors"

// Sentinel errors of the proxy. Every error returned wraps one of them.
var (
	// ErrTarget is a target that is not a host:port with a literal IP.
	ErrTarget = errors.New("faultproxy target")
	// ErrNotLoopback is a target outside the loopback network: the proxy
	// exists for tests, which never leave the machine.
	ErrNotLoopback = errors.New("faultproxy target not on loopback")
	// ErrClosed is a call on a proxy that has been closed.
	ErrClosed = errors.New("faultproxy closed")
	// ErrListen is a failure to open, or to reopen after Refuse, the
	// listening socket.
	ErrListen = errors.New("faultproxy listen")
)
