package credential

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/devices/credential/base45"
)

// Prefix starts every code of this format; "YB" (医保) followed by a version
// digit and ':' marks a code of ours in any version.
const Prefix = "YB1:"

// MaxTextLen is what QR version 10 at error-correction level M holds in
// alphanumeric mode; every code fits in it.
const MaxTextLen = 311

// Domain-separation tags: the issuer and the phone sign different kinds of
// message, so that no signature of one kind can pass for the other.
var (
	certTag = []byte("YB1-CERT")
	codeTag = []byte("YB1-CODE")
)

// CodeSize is the length of a code of alg before Base45: the certificate,
// 4 bytes of time, 4 of counter and the phone's signature. 203 bytes for
// Ed25519, 204 for SM2.
func CodeSize(alg Algorithm) int {
	if !alg.Known() {
		return 0
	}
	return CertificateSize(alg) + 8 + SignatureSize
}

// TextSize is the length of a code of alg as text: 309 characters for
// Ed25519, 310 for SM2.
func TextSize(alg Algorithm) int {
	return len(Prefix) + base45.EncodedLen(CodeSize(alg))
}

// Code is one dynamic code: the certificate, the phone's clock and counter
// when it was made, and the phone's signature over all of them.
type Code struct {
	Certificate Certificate
	// Time is the phone's clock, to the second.
	Time time.Time
	// Counter increases with every code the phone makes.
	Counter   uint32
	Signature []byte
}

// IsOurs reports whether text carries a prefix of this format's family
// ("YB", a digit, ':'), in any version. Other texts are opaque codes for
// the platform to resolve.
func IsOurs(text string) bool {
	return len(text) >= 4 && text[:2] == "YB" && text[2] >= '0' && text[2] <= '9' && text[3] == ':'
}

// appendSigned appends what the phone signs, after the tag: the
// certificate, the time and the counter.
func (c *Code) appendSigned(b []byte) ([]byte, error) {
	b, err := c.Certificate.AppendBinary(b)
	if err != nil {
		return b, err
	}
	secs := c.Time.Unix()
	if secs < 0 || secs > 1<<32-1 {
		return b, fmt.Errorf("code time %v: %w", c.Time, ErrMalformed)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(secs))
	return binary.BigEndian.AppendUint32(b, c.Counter), nil
}

// MarshalBinary is the code's wire form, before Base45.
func (c *Code) MarshalBinary() ([]byte, error) {
	b, err := c.appendSigned(make([]byte, 0, CodeSize(c.Certificate.Algorithm)))
	if err != nil {
		return nil, err
	}
	if len(c.Signature) != SignatureSize {
		return nil, fmt.Errorf("code signature of %d bytes: %w", len(c.Signature), ErrMalformed)
	}
	return append(b, c.Signature...), nil
}

// MarshalText is the code as shown in the QR: the prefix, then Base45.
func (c *Code) MarshalText() ([]byte, error) {
	b, err := c.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return base45.AppendEncode([]byte(Prefix), b), nil
}

// Parse reads a code's layout; it checks no signature, date or counter
// (Verifier.Verify does). A text that is not ours gives ErrOpaque, ours in
// another version ErrUnsupportedVersion, a damaged one ErrMalformed.
func Parse(text string) (*Code, error) {
	raw, err := decode(text, 0)
	if err != nil {
		return nil, err
	}
	return parseCode(raw)
}

// decode strips the prefix and the Base45 of text, and returns the bytes
// after reserve zero bytes, for the caller to fill.
func decode(text string, reserve int) ([]byte, error) {
	if !IsOurs(text) {
		return nil, ErrOpaque
	}
	if !strings.HasPrefix(text, Prefix) {
		return nil, fmt.Errorf("code version %q: %w", text[2], ErrUnsupportedVersion)
	}
	body := text[len(Prefix):]
	// A code longer than any of ours is refused before decoding it.
	if len(body) > base45.EncodedLen(CodeSize(SM2SM3)) {
		return nil, fmt.Errorf("code of %d characters: %w", len(text), ErrMalformed)
	}
	buf, err := base45.AppendDecode(make([]byte, reserve, reserve+CodeSize(SM2SM3)), body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return buf, nil
}

func parseCode(raw []byte) (*Code, error) {
	cert, n, err := parseCertificate(raw)
	if err != nil {
		return nil, err
	}
	if want := CodeSize(cert.Algorithm); len(raw) != want {
		return nil, fmt.Errorf("%s code of %d bytes, want %d: %w", cert.Algorithm, len(raw), want, ErrMalformed)
	}
	return &Code{
		Certificate: *cert,
		Time:        time.Unix(int64(binary.BigEndian.Uint32(raw[n:])), 0),
		Counter:     binary.BigEndian.Uint32(raw[n+4:]),
		Signature:   bytes.Clone(raw[n+8:]),
	}, nil
}
