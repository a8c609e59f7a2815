package pcsc

import "context"

// ReaderState is one reader and whether a card is in it, as PC/SC reports
// it.
type ReaderState struct {
	Reader  string
	Present bool   // a card is in the reader
	ATR     []byte // the card's answer to reset, when present
	Mute    bool   // a card is in but does not answer
	// Counter is PC/SC's event counter: it changes on every insertion and
	// removal, so an identical state with a different counter means the
	// card was swapped between two waits.
	Counter int
}

// Card is a connection to the card in one reader, in shared mode.
type Card interface {
	// Transmit sends one command APDU and returns the raw response APDU.
	// It only moves bytes: 61xx and 6Cxx are the caller's (package apdu).
	Transmit(ctx context.Context, command []byte) ([]byte, error)
	// ATR is the card's answer to reset.
	ATR() []byte
	// BeginTransaction holds the reader for a sequence of commands, so
	// that another program sharing it cannot slip a SELECT in between;
	// EndTransaction releases it.
	BeginTransaction() error
	EndTransaction() error
	Close() error
}
