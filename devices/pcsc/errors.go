// Package pcsc is the agent's card reader over the system's PC/SC service
// (pcsc-lite on Linux, winscard.dll on Windows) through
// github.com/ebfe/scard. It lists readers, waits for insertions, removals
// and reader plug events without polling, connects in shared mode so the
// window CLI can read a card the daemon also watches, and turns PC/SC's
// error codes into the few errors the agent acts on. When the PC/SC service
// stops and comes back, the next call re-establishes the connection to it.
//
// It is the only package of the agent that needs cgo on Linux; built
// without cgo there, every call returns ErrNoCgo.
package pcsc

import "errors"

// Errors the agent acts on. Each wraps the PC/SC code it came from.
var (
	// ErrNoCard: the reader is empty.
	ErrNoCard = errors.New("no card in the reader")
	// ErrCardRemoved: the card left the reader while connected; connect
	// again after the next insertion.
	ErrCardRemoved = errors.New("card removed")
	// ErrCardReset: another program reset the card; what was selected on
	// it is lost, so the read must start over.
	ErrCardReset = errors.New("card was reset by another program")
	// ErrCardMute: a card is in the reader but does not answer.
	ErrCardMute = errors.New("card does not respond")
	// ErrReaderGone: the reader was unplugged, or never existed.
	ErrReaderGone = errors.New("reader not available")
	// ErrReaderBusy: another program holds the reader exclusively.
	ErrReaderBusy = errors.New("reader in exclusive use by another program")
	// ErrServiceStopped: the PC/SC service is not running. The next call
	// tries to reach it again.
	ErrServiceStopped = errors.New("PC/SC service not running")
	// ErrClosed: the Reader was closed.
	ErrClosed = errors.New("reader closed")
	// ErrNoCgo: this build has no PC/SC support.
	ErrNoCgo = errors.New("PC/SC needs cgo on this platform: build with CGO_ENABLED=1 and libpcsclite-dev")
)

// PnPReader is the pseudo-reader whose state changes when a reader is
// plugged in or unplugged.
const PnPReader = `\\?PnP?\Notification`
