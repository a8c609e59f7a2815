package scanner

import (
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
)

// Terminator is the byte sequence a scanner sends after each code.
type Terminator string

// The terminators a serial scanner can be set to send.
const (
	CR   Terminator = "CR"
	LF   Terminator = "LF"
	CRLF Terminator = "CRLF"
	TAB  Terminator = "TAB"
)

// AIMMode says what to do with an AIM symbology identifier ("]Q1": a QR
// code, model 2) that a scanner may put in front of each code.
type AIMMode string

// The AIM modes.
const (
	// AIMNone keeps the code as sent: a leading "]Q1" is part of it.
	AIMNone AIMMode = "none"
	// AIMStrip removes an identifier when there is one.
	AIMStrip AIMMode = "strip"
	// AIMRequire removes the identifier and treats a line without one as
	// noise: with the scanner set to send identifiers, a line without one
	// did not come from a decode.
	AIMRequire AIMMode = "require"
)

// Framing says how a scanner frames its codes on the wire.
type Framing struct {
	Terminator Terminator `toml:"terminator"`
	AIM        AIMMode    `toml:"aim"`
	// MaxLen bounds a code, in bytes. A longer line is noise (line noise
	// or a runaway device), discarded up to its terminator.
	MaxLen int `toml:"max_len"`
	// Dedupe is the window within which the same code read again is not
	// sent again; 0 sends every read.
	Dedupe time.Duration `toml:"dedupe"`
}

// Bounds of Framing.MaxLen: a QR code holds at most 4,296 characters (version
// 40, alphanumeric), so anything longer cannot be one code.
const (
	DefaultMaxLen = 1024
	MaxMaxLen     = 4296
)

// DefaultFraming is what most kiosk QR scanners send out of the box: one
// code per line ended by CR, with an AIM identifier stripped if the scanner
// was set to add one, and a code held in front of the window for a second
// sent once.
func DefaultFraming() Framing {
	return Framing{Terminator: CR, AIM: AIMStrip, MaxLen: DefaultMaxLen, Dedupe: time.Second}
}

// Validate reports the first field that is wrong.
func (f Framing) Validate() error {
	switch f.Terminator {
	case CR, LF, CRLF, TAB:
	default:
		return invalid("terminator", "%q is not one of CR, LF, CRLF, TAB", string(f.Terminator))
	}
	switch f.AIM {
	case AIMNone, AIMStrip, AIMRequire:
	default:
		return invalid("aim", "%q is not one of none, strip, require", string(f.AIM))
	}
	if f.MaxLen < 1 || f.MaxLen > MaxMaxLen {
		return invalid("max_len", "%d is outside 1..%d bytes", f.MaxLen, MaxMaxLen)
	}
	if f.Dedupe < 0 {
		return invalid("dedupe", "%s is negative (0 turns de-duplication off)", f.Dedupe)
	}
	return nil
}

// Stats counts what a Framer has seen. Every terminated non-empty line is
// exactly one of a code, a duplicate or noise, so
// Lines == Codes + Duplicates + Noise.
type Stats struct {
	Lines      uint64 // terminated, non-empty lines
	Codes      uint64 // lines sent on as codes
	Duplicates uint64 // codes suppressed as re-reads within the window
	Noise      uint64 // lines discarded: non-printable bytes, too long, no AIM identifier when required
	HalfLines  uint64 // unterminated lines discarded when the port closed
}

// Framer turns the bytes a scanner sends into complete codes. It does no
// I/O and is not safe for concurrent use: one Framer per port.
type Framer struct {
	cfg Framing
	clk clock.Clock

	line      []byte // the current line's printable bytes, at most MaxLen
	noisy     bool   // the current line is already noise: skip to its end
	started   bool   // the current line has at least one byte
	crPending bool   // CRLF framing: a CR was seen, its LF not yet
	recent    []sighting
	stats     Stats
}

type sighting struct {
	code string
	at   time.Time
}

// recentCodes bounds the de-duplication memory: a scanner re-reads the
// code in front of it, not dozens of different ones within a second.
const recentCodes = 16

// NewFramer returns a Framer for f, reading the time for de-duplication
// from clk.
func NewFramer(f Framing, clk clock.Clock) (*Framer, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Framer{cfg: f, clk: clk, line: make([]byte, 0, min(f.MaxLen, 256))}, nil
}

// Feed takes the next bytes read from the port and returns the codes they
// complete, in order. A line may be split across any number of calls.
func (f *Framer) Feed(p []byte) []string {
	var codes []string
	for _, b := range p {
		if f.cfg.Terminator == CRLF {
			if f.crPending {
				f.crPending = false
				if b == '\n' {
					codes = f.endLine(codes)
					continue
				}
				f.add('\r') // a CR without its LF is not a terminator
			}
			if b == '\r' {
				f.crPending = true
				continue
			}
		} else if b == f.cfg.Terminator.single() {
			codes = f.endLine(codes)
			continue
		}
		f.add(b)
	}
	return codes
}

// End tells the Framer the port closed. A line without its terminator is
// half a code (the scanner was unplugged mid-line): it is discarded and
// counted, never sent.
func (f *Framer) End() {
	if f.started {
		f.stats.HalfLines++
	}
	f.reset()
}

// Stats returns the counters so far.
func (f *Framer) Stats() Stats { return f.stats }

func (t Terminator) single() byte {
	switch t {
	case CR:
		return '\r'
	case LF:
		return '\n'
	case TAB:
		return '\t'
	}
	return 0
}

// printable is printable ASCII. Every code a kiosk accepts (the national
// credential, payment codes, our Base45 codes) is ASCII; bytes outside it
// are line noise or a wrong baud rate or parity, and such a line is noise.
func printable(b byte) bool { return b >= 0x20 && b <= 0x7e }

func (f *Framer) add(b byte) {
	f.started = true
	switch {
	case f.noisy:
	case !printable(b), len(f.line) == f.cfg.MaxLen:
		f.noisy = true
		f.line = f.line[:0]
	default:
		f.line = append(f.line, b)
	}
}

func (f *Framer) endLine(codes []string) []string {
	defer f.reset()
	if !f.started {
		return codes // an empty line (doubled terminators, a keep-alive) is nothing
	}
	f.stats.Lines++
	body := f.line
	if f.noisy {
		f.stats.Noise++
		return codes
	}
	if f.cfg.AIM != AIMNone {
		if hasAIM(body) {
			body = body[3:]
		} else if f.cfg.AIM == AIMRequire {
			f.stats.Noise++
			return codes
		}
	}
	if len(body) == 0 {
		f.stats.Noise++
		return codes
	}
	code := string(body)
	if f.duplicate(code) {
		f.stats.Duplicates++
		return codes
	}
	f.stats.Codes++
	return append(codes, code)
}

// hasAIM reports an AIM symbology identifier: ']', the symbology letter,
// and a modifier character.
func hasAIM(b []byte) bool {
	if len(b) < 3 || b[0] != ']' {
		return false
	}
	c, m := b[1], b[2]
	letter := (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
	mod := (m >= '0' && m <= '9') || (m >= 'A' && m <= 'Z') || (m >= 'a' && m <= 'z')
	return letter && mod
}

// duplicate reports whether code was read within the window before now,
// and records this read. The window slides: a code held in front of the
// scanner, re-read every few hundred milliseconds, is sent once however
// long it is held, and again only after a gap of a full window.
func (f *Framer) duplicate(code string) bool {
	if f.cfg.Dedupe == 0 {
		return false
	}
	now := f.clk.Now()
	kept := f.recent[:0]
	dup := false
	for _, s := range f.recent {
		if age := now.Sub(s.at); age < 0 || age >= f.cfg.Dedupe {
			continue
		}
		if s.code == code {
			dup = true
			s.at = now
		}
		kept = append(kept, s)
	}
	f.recent = kept
	if !dup {
		if len(f.recent) == recentCodes {
			f.recent = append(f.recent[:0], f.recent[1:]...)
		}
		f.recent = append(f.recent, sighting{code: code, at: now})
	}
	return dup
}

func (f *Framer) reset() {
	f.line = f.line[:0]
	f.noisy = false
	f.started = false
	f.crPending = false
}
