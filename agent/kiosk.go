package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/mask"
)

// CodeVerifier checks a dynamic insurance QR code offline: our signed
// codes are verified against the platform's trust list; anything else is
// an opaque code that only the platform can check.
type CodeVerifier interface {
	// Verify returns the code's verified identity, ErrOpaqueCode for a
	// code that is not ours, a *CodeRejection for one of ours that must
	// be refused, or another error when the terminal itself failed.
	Verify(ctx context.Context, text string) (VerifiedCode, error)
}

// VerifiedCode is what a signed code proves offline: an opaque person
// token (never who the person is), the credential's serial and region.
type VerifiedCode struct {
	Serial      string
	PersonToken string
	Region      string
	Algorithm   string
	CodeTime    time.Time
	Counter     uint64
}

// ErrOpaqueCode is a code that is not one of our signed ones.
var ErrOpaqueCode = errors.New("not a signed code: only the platform can check it")

// CodeRejection is why a signed code is refused, with what the patient
// can do about it.
type CodeRejection struct {
	Reason string `json:"reason"` // stable: EXPIRED, REPLAYED, REVOKED, ...
	Detail string `json:"detail"`
	ZH     string `json:"message_zh"`
	EN     string `json:"message_en"`
}

func (r *CodeRejection) Error() string { return r.Detail }

// Scan kinds.
const (
	ScanSigned = "signed"
	ScanOpaque = "opaque"
)

// Scan is one code read at this kiosk, as the API shows it (no personal
// data: the code text itself is kept back).
type Scan struct {
	ID        string         `json:"id"`
	At        time.Time      `json:"at"`
	Source    string         `json:"source"`
	Kind      string         `json:"kind"`     // signed or opaque
	Verified  bool           `json:"verified"` // a signed code that passed every offline check
	Serial    string         `json:"serial,omitempty"`
	Rejection *CodeRejection `json:"rejection,omitempty"`

	text   string
	token  string
	usedBy string // the idempotency key of the bill the code settles
	// person is who the code was found to be, by the e-voucher component
	// or 1101, when the kiosk looked the patient up before a bill.
	person *scanPerson
}

// scanPerson is the holder of a scanned code, as the e-voucher component
// or 1101 answered.
type scanPerson struct {
	IDNo, Name               string
	Token                    string // the e-voucher's token, for a national code
	PsnNo, Insutype, Insuplc string // from 1101, for one of our signed codes
}

// setPerson records who a scan's code belongs to.
func (k *Kiosk) setPerson(id string, p scanPerson) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if id == "latest" {
		id = k.latest
	}
	if sc, ok := k.scans[id]; ok {
		sc.person = &p
	}
}

// Kiosk turns codes from the scanner or a camera image into scans: each
// is verified offline at once when it is ours, announced on the event
// stream, and kept for a few minutes for the bill the patient is about to
// pay. One code settles one bill: the platform, like our own counters,
// takes each code once.
type Kiosk struct {
	verifier CodeVerifier
	bus      *events.Bus
	clock    clock.Clock
	log      *slog.Logger
	ttl      time.Duration

	mu     sync.Mutex
	scans  map[string]*Scan
	latest string
}

// KioskConfig wires a Kiosk.
type KioskConfig struct {
	Verifier CodeVerifier
	Events   *events.Bus
	Clock    clock.Clock
	Logger   *slog.Logger
	// TTL is how long a scan may be used for a bill: default 5 minutes
	// (the patient walks from the scanner to the screen).
	TTL time.Duration
}

// NewKiosk returns a Kiosk.
func NewKiosk(c KioskConfig) *Kiosk {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TTL <= 0 {
		c.TTL = 5 * time.Minute
	}
	return &Kiosk{verifier: c.Verifier, bus: c.Events, clock: c.Clock, log: c.Logger, ttl: c.TTL, scans: map[string]*Scan{}}
}

// Run handles the codes a scanner yields until ctx ends.
func (k *Kiosk) Run(ctx context.Context, codes <-chan ScannedCode) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-codes:
			k.Handle(ctx, c)
		}
	}
}

// Handle verifies one code and records the scan. The error is the
// terminal's own failure (a counter store that cannot write): a refused
// code is a scan with a Rejection, not an error.
func (k *Kiosk) Handle(ctx context.Context, c ScannedCode) (Scan, error) {
	sc := Scan{ID: newScanID(), At: c.At, Source: c.Source, Kind: ScanSigned, text: c.Text}
	if sc.At.IsZero() {
		sc.At = k.clock.Now()
	}
	id, err := k.verifier.Verify(ctx, c.Text)
	var rej *CodeRejection
	switch {
	case err == nil:
		sc.Verified, sc.Serial, sc.token = true, id.Serial, id.PersonToken
	case errors.Is(err, ErrOpaqueCode):
		sc.Kind = ScanOpaque
	case errors.As(err, &rej):
		sc.Rejection = rej
	default:
		k.log.Error("code could not be checked", "source", c.Source, "err", err)
		return sc, fmt.Errorf("check the code: %w", err)
	}
	k.mu.Lock()
	k.prune()
	k.scans[sc.ID] = &sc
	k.latest = sc.ID
	k.mu.Unlock()
	reason := ""
	if sc.Rejection != nil {
		reason = sc.Rejection.Reason
	}
	k.log.Info("code scanned", "scan", sc.ID, "source", sc.Source, "kind", sc.Kind, "verified", sc.Verified, "rejected", reason)
	k.bus.Publish(events.CodeScanned, sc.view())
	return sc.view(), nil
}

// view is the scan without what it keeps back.
func (s Scan) view() Scan {
	s.text, s.token = "", ""
	if s.Serial != "" {
		s.Serial = mask.Card(s.Serial)
	}
	return s
}

func (k *Kiosk) prune() {
	cutoff := k.clock.Now().Add(-k.ttl)
	for id, s := range k.scans {
		if s.At.Before(cutoff) {
			delete(k.scans, id)
		}
	}
}

// Scan errors.
var (
	ErrNoScan      = errors.New("no code has been scanned (or the scan is older than a few minutes)")
	ErrCodeRefused = errors.New("the code was refused")
)

// Get returns a scan by id ("latest" for the last one).
func (k *Kiosk) Get(id string) (Scan, error) {
	s, err := k.get(id)
	if err != nil {
		return Scan{}, err
	}
	return s.view(), nil
}

func (k *Kiosk) get(id string) (Scan, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.prune()
	if id == "latest" {
		id = k.latest
	}
	s, ok := k.scans[id]
	if !ok {
		return Scan{}, ErrNoScan
	}
	return *s, nil
}

// ErrScanUsed is a scan already taken by another bill: one code settles
// one bill, here as at the platform.
var ErrScanUsed = errors.New("this code was already used for another bill; please refresh the code on your phone")

// identity is the settlement identity of a scan for the bill under key:
// the code itself (cert type 01), marked verified when it passed the
// offline checks. The first bill to use a scan keeps it.
func (k *Kiosk) identity(id, key string) (IdentityInput, error) {
	k.mu.Lock()
	k.prune()
	if id == "latest" {
		id = k.latest
	}
	sp, ok := k.scans[id]
	if ok && sp.Rejection == nil {
		switch sp.usedBy {
		case "":
			sp.usedBy = key
		case key:
		default:
			k.mu.Unlock()
			return IdentityInput{}, ErrScanUsed
		}
	}
	k.mu.Unlock()
	s, err := k.get(id)
	if err != nil {
		return IdentityInput{}, err
	}
	if s.Rejection != nil {
		return IdentityInput{}, fmt.Errorf("%w: %w", ErrCodeRefused, s.Rejection)
	}
	in := IdentityInput{CertType: CertEVoucher, CertNo: s.text, Verified: s.Verified, PersonToken: s.token}
	if p := s.person; p != nil {
		in.IDNo, in.Name, in.Token = p.IDNo, p.Name, p.Token
		in.PsnNo, in.Insutype, in.Insuplc = p.PsnNo, p.Insutype, p.Insuplc
	}
	return in, nil
}

func newScanID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "scan-" + hex.EncodeToString(b[:])
}
