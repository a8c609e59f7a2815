// Package scanner reads codes from a serial QR scanner (a kiosk's or a
// window's, on /dev/ttyUSB0, COM3 or a udev name) through
// github.com/tarm/serial, and yields each code it reads once. A Framer
// turns the bytes into codes: terminators, AIM identifiers, noise, half
// lines and re-reads of the same code are handled there, without I/O. Run
// keeps the port open across unplugging and replugging, with no restart.
//
// Code text identifies a patient: it is never logged, only its length and
// a short hash.
package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/tarm/serial"

	"github.com/seed-a859fada/medterm/agent/clock"
)

// Options are the scanner's collaborators.
type Options struct {
	Clock  clock.Clock  // time of reads, de-duplication window, reopen backoff
	Logger *slog.Logger // nil: discard
}

// Code is one code read by the scanner. Its text identifies a patient.
type Code struct {
	Text   string
	At     time.Time // when the scanner's line was complete
	Source string    // the port it came from
}

// Serial is a scanner on a serial port.
type Serial struct {
	cfg    Config
	clk    clock.Clock
	log    *slog.Logger
	framer *Framer // used only by the Scan holding reading
	codes  chan Code

	reading sync.Mutex // held by the one Scan that owns the port
	// afterRead, when set (by tests), is told the size of each read once
	// its codes have been sent, so that a test can split a code across
	// reads for certain.
	afterRead func(n int)

	mu    sync.Mutex
	stats PortStats
}

// PortStats are the counters of a Serial, for metrics: the framer's, and
// the port's life.
type PortStats struct {
	Stats
	Open         bool   // the port is open now
	Opens        uint64 // successful opens
	OpenFailures uint64 // opens that failed (scanner absent, no permission)
	Unplugs      uint64 // reads ended by the port failing or vanishing
}

// New checks cfg and returns a scanner for it. Nothing is opened until Scan
// or Run.
func New(cfg Config, opts Options) (*Serial, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f, err := NewFramer(cfg.Framing, opts.Clock)
	if err != nil {
		return nil, err
	}
	return &Serial{
		cfg:    cfg,
		clk:    opts.Clock,
		log:    opts.Logger.With("port", cfg.Port),
		framer: f,
		codes:  make(chan Code),
	}, nil
}

// Stats returns the counters so far. Safe to call at any time.
func (s *Serial) Stats() PortStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Codes is where Run sends the codes it reads. It is never closed: Run may
// be restarted.
func (s *Serial) Codes() <-chan Code { return s.codes }

// Scan opens the port and sends each code it reads to out until ctx ends
// (nil) or the port fails: ErrOpen if it cannot be opened, ErrUnplugged if
// it fails or vanishes while open. It notices the end of ctx within the
// configured read timeout.
func (s *Serial) Scan(ctx context.Context, out chan<- Code) error {
	if !s.reading.TryLock() {
		return fmt.Errorf("scan %s: %w", s.cfg.Port, ErrBusy)
	}
	defer s.reading.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	port, id, err := s.open()
	if err != nil {
		s.update(func(st *PortStats) { st.OpenFailures++ })
		return err
	}
	s.update(func(st *PortStats) { st.Open = true; st.Opens++ })
	s.log.Info("scanner port opened")

	err = s.read(ctx, port, id, out)

	closeErr := port.Close()
	s.framer.End()
	framed := s.framer.Stats()
	s.update(func(st *PortStats) {
		st.Stats = framed
		st.Open = false
		if err != nil {
			st.Unplugs++
		}
	})
	switch {
	case err != nil:
		s.log.Warn("scanner port lost", "err", err)
	case closeErr != nil:
		s.log.Warn("scanner port closed with an error", "err", closeErr)
	default:
		s.log.Info("scanner port closed")
	}
	return err
}

func (s *Serial) open() (io.ReadCloser, portID, error) {
	c := &serial.Config{
		Name:        s.cfg.Port,
		Baud:        s.cfg.Baud,
		ReadTimeout: s.cfg.ReadTimeout,
		Size:        byte(s.cfg.DataBits),
		Parity:      s.cfg.Parity.serial(),
		StopBits:    serial.StopBits(s.cfg.StopBits),
	}
	p, err := serial.OpenPort(c)
	if err != nil {
		return nil, portID{}, fmt.Errorf("open %s: %w: %w", s.cfg.Port, ErrOpen, bare(err))
	}
	id, err := identify(s.cfg.Port)
	if err != nil {
		p.Close()
		return nil, portID{}, fmt.Errorf("open %s: %w: %w", s.cfg.Port, ErrOpen, bare(err))
	}
	return p, id, nil
}

func (p Parity) serial() serial.Parity {
	switch p {
	case ParityOdd:
		return serial.ParityOdd
	case ParityEven:
		return serial.ParityEven
	}
	return serial.ParityNone
}

// hangupReads is how many reads in a row may end at once with nothing
// before the port counts as hung up: a tty whose device was removed
// answers every read with end-of-file immediately instead of after the
// read timeout.
const hangupReads = 3

func (s *Serial) read(ctx context.Context, port io.Reader, id portID, out chan<- Code) error {
	buf := make([]byte, 512)
	quick := 0
	noiseLogged := false
	for ctx.Err() == nil {
		// The driver's timeout is measured on the wall clock: it is the
		// kernel's timer, not the agent's schedule.
		start := time.Now()
		n, err := port.Read(buf)
		if n > 0 {
			quick = 0
			before := s.framer.Stats()
			codes := s.framer.Feed(buf[:n])
			after := s.framer.Stats()
			s.update(func(st *PortStats) { st.Stats = after })
			if after.Noise > before.Noise {
				level := slog.LevelDebug
				if !noiseLogged {
					level, noiseLogged = slog.LevelWarn, true
				}
				s.log.Log(ctx, level, "scanner line discarded as noise (check terminator, baud rate and parity)", "noise_total", after.Noise)
			}
			if after.Duplicates > before.Duplicates {
				s.log.Debug("repeated code suppressed", "duplicates_total", after.Duplicates)
			}
			for _, code := range codes {
				s.log.Debug("code read", "len", len(code), "hash", shortHash(code))
				select {
				case out <- Code{Text: code, At: s.clk.Now(), Source: s.cfg.Port}:
				case <-ctx.Done():
					return nil
				}
			}
			if s.afterRead != nil {
				s.afterRead(n)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF): // the read timeout passed with no byte
			if ctx.Err() != nil {
				return nil
			}
			if now, err := identify(s.cfg.Port); err != nil || now != id {
				return fmt.Errorf("read %s: %w: the device is no longer at this path", s.cfg.Port, ErrUnplugged)
			}
			if time.Since(start) < s.cfg.ReadTimeout/2 {
				quick++
			} else {
				quick = 0
			}
			if quick >= hangupReads {
				return fmt.Errorf("read %s: %w: the port hung up", s.cfg.Port, ErrUnplugged)
			}
		default:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w: %w", s.cfg.Port, ErrUnplugged, bare(err))
		}
	}
	return nil
}

// Run reads the port until ctx ends, reopening it whenever it fails or is
// absent: first after ReopenMin, then waiting twice as long each time it is
// still absent, up to ReopenMax. Codes go to Codes. It returns nil when ctx
// ends, and an error only if another Scan holds the port.
func (s *Serial) Run(ctx context.Context) error {
	wait := s.cfg.ReopenMin
	failures := 0
	for {
		err := s.Scan(ctx, s.codes)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, ErrBusy):
			return err
		case errors.Is(err, ErrOpen):
			failures++
			level := slog.LevelDebug
			if failures == 1 {
				level = slog.LevelWarn
			}
			s.log.Log(ctx, level, "scanner port unavailable; retrying", "err", err, "in", wait, "attempts", failures)
		default: // unplugged after a successful open: start the backoff again
			failures = 0
			wait = s.cfg.ReopenMin
			s.log.Info("scanner port reopening", "in", wait)
		}
		select {
		case <-s.clk.After(wait):
		case <-ctx.Done():
			return nil
		}
		if failures > 0 {
			wait = min(2*wait, s.cfg.ReopenMax)
		}
	}
}

func (s *Serial) update(f func(*PortStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// bare drops the operation and path from an *fs.PathError: our own
// wrapping names both already.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// shortHash tells two codes apart in a log without revealing either.
func shortHash(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:4])
}
