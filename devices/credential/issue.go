package credential

import (
	"fmt"
	"sync"
	"time"
)

// Issuer is the platform's side: an issuer key that certifies phones.
type Issuer struct {
	KeyID KeyID
	Key   *PrivateKey
}

// TrustEntry is the issuer's public key as the trust list publishes it,
// valid from notBefore until notAfter.
func (is *Issuer) TrustEntry(notBefore, notAfter time.Time) IssuerKey {
	return IssuerKey{
		KeyID:     is.KeyID,
		Algorithm: is.Key.Algorithm(),
		PublicKey: is.Key.Public().Bytes(),
		NotBefore: notBefore,
		NotAfter:  notAfter,
	}
}

// Issue certifies phone for the person, region and days of tmpl (its
// Serial, Person, Region, NotBefore and NotAfter; the rest is the
// issuer's). The phone's key must use the issuer's algorithm.
func (is *Issuer) Issue(tmpl Certificate, phone *PublicKey) (*Certificate, error) {
	alg := is.Key.Algorithm()
	if phone.Algorithm() != alg {
		return nil, fmt.Errorf("%s phone key for a %s issuer: %w", phone.Algorithm(), alg, ErrIssue)
	}
	if tmpl.NotAfter < tmpl.NotBefore {
		return nil, fmt.Errorf("validity %s to %s: %w", tmpl.NotBefore, tmpl.NotAfter, ErrIssue)
	}
	c := tmpl
	c.Version = CertificateVersion
	c.Algorithm = alg
	c.KeyID = is.KeyID
	c.PhoneKey = phone.Bytes()
	msg, err := c.appendSigned(append([]byte(nil), certTag...))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIssue, err)
	}
	if c.Signature, err = is.Key.sign(msg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIssue, err)
	}
	return &c, nil
}

// Phone is a patient's phone: its certificate and the key it certifies.
// It makes codes; the sandbox plays it.
type Phone struct {
	Certificate *Certificate
	Key         *PrivateKey

	mu   sync.Mutex
	last uint32
}

// NewPhone pairs a certificate with its phone's key; the counter starts
// after last (0 for a new phone).
func NewPhone(cert *Certificate, key *PrivateKey, last uint32) (*Phone, error) {
	if cert.Algorithm != key.Algorithm() || string(cert.PhoneKey) != string(key.Public().raw) {
		return nil, fmt.Errorf("certificate %s is not for this key: %w", cert.Serial, ErrKey)
	}
	return &Phone{Certificate: cert, Key: key, last: last}, nil
}

// Code makes the code for time t and counter n, as text. It does not move
// the phone's own counter: tests use it to make replays and out-of-order
// codes on purpose.
func (p *Phone) Code(t time.Time, n uint32) (string, error) {
	c := Code{Certificate: *p.Certificate, Time: t.Truncate(time.Second), Counter: n}
	msg, err := c.appendSigned(append([]byte(nil), codeTag...))
	if err != nil {
		return "", fmt.Errorf("make code: %w", err)
	}
	if c.Signature, err = p.Key.sign(msg); err != nil {
		return "", fmt.Errorf("make code: %w", err)
	}
	text, err := c.MarshalText()
	if err != nil {
		return "", fmt.Errorf("make code: %w", err)
	}
	return string(text), nil
}

// Next makes the code for time t with the phone's next counter, as a phone
// refreshing its screen does.
func (p *Phone) Next(t time.Time) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == 1<<32-1 {
		// Wrapping to 0 would make every later code a replay.
		return "", fmt.Errorf("certificate %s: counter exhausted, issue a new one: %w", p.Certificate.Serial, ErrIssue)
	}
	text, err := p.Code(t, p.last+1)
	if err == nil {
		p.last++
	}
	return text, err
}

// Last is the counter of the last code Next made.
func (p *Phone) Last() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}
