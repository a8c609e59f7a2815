package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/mask"
)

// Defaults of Options.
const (
	DefaultLifetime = 60 * time.Second
	DefaultSkew     = 30 * time.Second
)

// Options bound how old or how far ahead of the terminal a code's time may
// be: it is accepted from Skew ahead of the terminal's clock to Lifetime +
// Skew behind it.
type Options struct {
	Lifetime time.Duration
	Skew     time.Duration
}

// DefaultOptions is a 60 s lifetime with 30 s of clock skew either way.
func DefaultOptions() Options { return Options{Lifetime: DefaultLifetime, Skew: DefaultSkew} }

// Identity is who a verified code speaks for.
type Identity struct {
	Serial    Serial
	Person    PersonToken
	Region    string
	Algorithm Algorithm
	KeyID     KeyID
	// CodeTime is the phone's clock when it made the code.
	CodeTime time.Time
	Counter  uint32
	// NotAfter is the certificate's last valid day, for a reminder to renew.
	NotAfter Day
}

// LogValue masks the person token: it names a person to the platform.
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("serial", id.Serial.String()),
		slog.String("person", mask.Card(id.Person.String())),
		slog.String("region", id.Region),
		slog.String("alg", id.Algorithm.String()),
		slog.Int("key_id", int(id.KeyID)),
		slog.Uint64("counter", uint64(id.Counter)),
	)
}

// CounterStore keeps, durably, the highest code counter seen for each
// credential serial on this terminal, so that a screenshot of a code that
// was already used is refused, also after a restart.
type CounterStore interface {
	// Advance records counter for serial if it is above the highest seen,
	// atomically and durably before it returns. Otherwise it records
	// nothing and returns an error that matches ErrReplayed; any other
	// error is the store's own failure (a full disk), not the code's.
	Advance(ctx context.Context, serial string, counter uint64) error
}

// Verifier checks codes offline against a trust list, the terminal's clock
// and the counters this terminal has seen. It is safe for concurrent use.
type Verifier struct {
	trust    atomic.Pointer[trust]
	counters CounterStore
	clock    clock.Clock
	opt      Options
}

// NewVerifier returns a verifier of codes signed under tl.
func NewVerifier(tl *TrustList, counters CounterStore, clk clock.Clock, opt Options) (*Verifier, error) {
	if counters == nil || clk == nil {
		return nil, errors.New("new verifier: counter store and clock are required")
	}
	if opt.Lifetime <= 0 || opt.Skew < 0 {
		return nil, fmt.Errorf("new verifier: lifetime %v must be positive and skew %v not negative", opt.Lifetime, opt.Skew)
	}
	t, err := compile(tl)
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	v := &Verifier{counters: counters, clock: clk, opt: opt}
	v.trust.Store(t)
	return v, nil
}

// SetTrustList replaces the trust list, as E001 brings a new one. A list
// with a lower version than the one in use is refused, so that an old list
// (with a key since withdrawn) cannot be played back.
func (v *Verifier) SetTrustList(tl *TrustList) error {
	t, err := compile(tl)
	if err != nil {
		return fmt.Errorf("set trust list: %w", err)
	}
	for {
		old := v.trust.Load()
		if t.version < old.version {
			return fmt.Errorf("set trust list: version %d, in use %d: %w", t.version, old.version, ErrTrustListRollback)
		}
		if v.trust.CompareAndSwap(old, t) {
			return nil
		}
	}
}

// TrustVersion is the version of the trust list in use.
func (v *Verifier) TrustVersion() uint64 { return v.trust.Load().version }

// Verify checks a code in the order of FORMAT.md and returns who it speaks
// for. A text that is not ours gives ErrOpaque; a refused code gives one
// of the Rejection sentinels, wrapped. Only a code that passes every other
// check advances its serial's counter: a forged or stale code changes
// nothing.
func (v *Verifier) Verify(ctx context.Context, text string) (Identity, error) {
	id, err := v.verify(ctx, text)
	if err != nil {
		return Identity{}, fmt.Errorf("verify code: %w", err)
	}
	return id, nil
}

func (v *Verifier) verify(ctx context.Context, text string) (Identity, error) {
	// 1-2. Prefix, Base45 and layout. buf keeps room for a tag before the
	// code, so that both signed messages are slices of it.
	const tagLen = 8
	buf, err := decode(text, tagLen)
	if err != nil {
		return Identity{}, err
	}
	raw := buf[tagLen:]
	code, err := parseCode(raw)
	if err != nil {
		return Identity{}, err
	}
	cert := &code.Certificate
	certSigAt := tagLen + CertificateSize(cert.Algorithm) - SignatureSize
	codeSigAt := tagLen + CodeSize(cert.Algorithm) - SignatureSize

	// 3. The issuer key.
	t := v.trust.Load()
	key, ok := t.keys[cert.KeyID]
	if !ok {
		return Identity{}, fmt.Errorf("key id %d: %w", cert.KeyID, ErrUnknownIssuer)
	}
	if key.pub.Algorithm() != cert.Algorithm {
		return Identity{}, fmt.Errorf("key id %d is %s, certificate %s: %w", cert.KeyID, key.pub.Algorithm(), cert.Algorithm, ErrAlgorithmMismatch)
	}

	// 4. The certificate's signature, then its dates and its key's.
	copy(buf, certTag)
	if !key.pub.verify(buf[:certSigAt], cert.Signature) {
		return Identity{}, fmt.Errorf("certificate %s: %w", cert.Serial, ErrCertificateSignature)
	}
	now := v.clock.Now()
	switch cert.ValidAt(now) {
	case -1:
		return Identity{}, fmt.Errorf("certificate %s valid from %s: %w", cert.Serial, cert.NotBefore, ErrCertificateNotYetValid)
	case 1:
		return Identity{}, fmt.Errorf("certificate %s valid until %s: %w", cert.Serial, cert.NotAfter, ErrCertificateExpired)
	}
	if now.Before(key.notBefore) || !now.Before(key.notAfter) {
		return Identity{}, fmt.Errorf("key id %d valid %s to %s: %w", cert.KeyID,
			key.notBefore.Format(time.RFC3339), key.notAfter.Format(time.RFC3339), ErrIssuerKeyValidity)
	}

	// 5. The phone's signature over the whole code.
	phone, err := ParsePublicKey(cert.Algorithm, cert.PhoneKey)
	if err != nil {
		return Identity{}, fmt.Errorf("certificate %s phone key: %w: %w", cert.Serial, ErrMalformed, err)
	}
	copy(buf, codeTag)
	if !phone.verify(buf[:codeSigAt], code.Signature) {
		return Identity{}, fmt.Errorf("certificate %s: %w", cert.Serial, ErrCodeSignature)
	}

	// 6. The code's age.
	switch age := now.Sub(code.Time); {
	case age < -v.opt.Skew:
		return Identity{}, fmt.Errorf("code %v ahead of the terminal: %w", -age, ErrCodeFuture)
	case age > v.opt.Lifetime+v.opt.Skew:
		return Identity{}, fmt.Errorf("code %v old: %w", age, ErrCodeExpired)
	}

	// 7. Revocation, before the counter, so that a revoked code leaves no
	// trace.
	if _, revoked := t.revoked[cert.Serial]; revoked {
		return Identity{}, fmt.Errorf("certificate %s: %w", cert.Serial, ErrRevoked)
	}

	// 8. The counter, last: only a code that verifies may move it.
	if err := v.counters.Advance(ctx, cert.Serial.String(), uint64(code.Counter)); err != nil {
		if errors.Is(err, ErrReplayed) {
			return Identity{}, fmt.Errorf("certificate %s counter %d: %w", cert.Serial, code.Counter, err)
		}
		return Identity{}, fmt.Errorf("record counter: %w", err)
	}
	return Identity{
		Serial:    cert.Serial,
		Person:    cert.Person,
		Region:    cert.Region,
		Algorithm: cert.Algorithm,
		KeyID:     cert.KeyID,
		CodeTime:  code.Time,
		Counter:   code.Counter,
		NotAfter:  cert.NotAfter,
	}, nil
}
