package agent

import (
	"context"
	"time"
)

// CardReader is what the core needs from a smart-card stack (PC/SC): the
// readers present, their changes, and a connection to the card in one.
type CardReader interface {
	// Readers lists the reader names now present.
	Readers(ctx context.Context) ([]string, error)
	// WaitChange blocks until a reader or card changes relative to known
	// (nil: the current state is returned at once) or ctx ends, and returns
	// the new state of every reader. It does not poll.
	WaitChange(ctx context.Context, known []ReaderState) ([]ReaderState, error)
	// Connect opens the card in reader in shared mode, so that another
	// program (the CLI while the daemon runs) may read it too.
	Connect(ctx context.Context, reader string) (Card, error)
}

// ReaderState is one reader and whether a card is in it.
type ReaderState struct {
	Reader  string
	Present bool   // a card is in the reader
	ATR     []byte // the card's answer to reset, when present
	Mute    bool   // a card is in but does not answer
	// Counter changes on every insert and removal: an identical state with
	// a different counter means the card was swapped.
	Counter int
}

// Card is a connection to one inserted card.
type Card interface {
	// Transmit sends one command APDU and returns the raw response APDU
	// (data and status word). Status-word handling (61xx, 6Cxx) is the
	// caller's; Transmit only moves bytes.
	Transmit(ctx context.Context, command []byte) ([]byte, error)
	// ATR is the card's answer to reset.
	ATR() []byte
	Close() error
}

// SecureModule answers a 3rd-generation card's external authentication:
// given the card's identifier and its challenge, it returns the cryptogram
// that proves the terminal holds the key. A PSAM in a second reader and a
// network encryption machine both sit behind it.
type SecureModule interface {
	Authenticate(ctx context.Context, req AuthRequest) ([]byte, error)
}

// AuthRequest is what a secure module needs for one external
// authentication.
type AuthRequest struct {
	CardID    []byte // EF05 tag 01, the 16-byte card identifier
	Region    string // the issuing region, the first 6 digits of the identifier
	Challenge []byte // 8 bytes from GET CHALLENGE
	KeyID     byte   // P2 of EXTERNAL AUTHENTICATE
}

// Scanner is a barcode scanner (a serial QR scanner at a kiosk): it yields
// each complete code it reads once.
type Scanner interface {
	// Scan reads codes until ctx ends or the device fails (unplugged),
	// sending each complete code to out. Duplicates of the same code read
	// within the de-duplication window are sent once. It returns nil when
	// ctx ends and an error when the device fails, so that the caller can
	// reopen it.
	Scan(ctx context.Context, out chan<- ScannedCode) error
}

// ScannedCode is one code read by a scanner or decoded from an image.
type ScannedCode struct {
	Text   string
	At     time.Time
	Source string // the scanner's port, or "image"
}

// CounterStore keeps, durably, the highest code counter seen for each
// credential serial on this terminal, so that a screenshot of a code that
// was already used is refused, also after a restart.
type CounterStore interface {
	// Advance records counter for serial if it is higher than the highest
	// seen, and returns ErrReplayed (wrapped) otherwise. It is atomic and
	// durable before it returns.
	Advance(ctx context.Context, serial string, counter uint64) error
}
