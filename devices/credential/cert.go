package credential

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// CertificateVersion is the only certificate format this package reads.
const CertificateVersion = 1

// Offsets of the certificate's fixed fields (FORMAT.md, "Certificate").
const (
	offVersion   = 0
	offAlgorithm = 1
	offKeyID     = 2
	offSerial    = 4
	offPerson    = 12
	offRegion    = 28
	offNotBefore = 31
	offNotAfter  = 33
	offPhoneKey  = 35
)

// CertificateSize is the length of a certificate of alg on the wire: 131
// bytes for Ed25519, 132 for SM2 (its compressed point is one byte longer).
func CertificateSize(alg Algorithm) int {
	if !alg.Known() {
		return 0
	}
	return offPhoneKey + alg.PublicKeySize() + SignatureSize
}

// KeyID names an issuer key in the trust list.
type KeyID uint16

// Serial names one certificate; counters and revocations are per serial.
type Serial uint64

// String is the serial as 16 lower-case hex digits, as in the trust list
// and the counter store.
func (s Serial) String() string {
	return hex.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(s)))
}

// MarshalText writes the serial as String does.
func (s Serial) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads 16 hex digits.
func (s *Serial) UnmarshalText(b []byte) error {
	var raw [8]byte
	if len(b) != 16 {
		return fmt.Errorf("serial %q: want 16 hex digits", b)
	}
	if _, err := hex.Decode(raw[:], b); err != nil {
		return fmt.Errorf("serial %q: %w", b, err)
	}
	*s = Serial(binary.BigEndian.Uint64(raw[:]))
	return nil
}

// PersonToken is the platform's opaque name for the insured person: it maps
// to a psn_no only on the platform, so a code read or photographed by anyone
// reveals no ID number.
type PersonToken [16]byte

// String is the token in hex. It identifies a person to the platform: log
// it masked (Identity's LogValue does).
func (p PersonToken) String() string { return hex.EncodeToString(p[:]) }

// Day is a calendar day in China Standard Time (UTC+08:00, no daylight
// saving), counted from 1970-01-01. Certificate validity is in whole days,
// the way a patient reads "valid until 31 December".
type Day uint16

var cst = time.FixedZone("CST", 8*3600)

// DayOf is the day that t falls on in China Standard Time.
func DayOf(t time.Time) Day {
	return Day((t.Unix() + 8*3600) / 86400)
}

// Start is the first instant of d.
func (d Day) Start() time.Time {
	return time.Unix(int64(d)*86400-8*3600, 0).In(cst)
}

func (d Day) String() string { return d.Start().Format(time.DateOnly) }

// Certificate is the issuer's statement that a phone's key speaks for an
// insured person for a period of days.
type Certificate struct {
	Version   uint8
	Algorithm Algorithm
	KeyID     KeyID
	Serial    Serial
	Person    PersonToken
	// Region is the insured region (insuplc_admdvs), 6 digits.
	Region string
	// The certificate is valid from the start of NotBefore to the end of
	// NotAfter.
	NotBefore, NotAfter Day
	// PhoneKey is the phone's public key in its wire form.
	PhoneKey []byte
	// Signature is the issuer's, over the fields above (FORMAT.md).
	Signature []byte
}

// ValidAt reports where t stands relative to the validity: -1 before it, 0
// within it, 1 after it.
func (c *Certificate) ValidAt(t time.Time) int {
	switch d := DayOf(t); {
	case d < c.NotBefore:
		return -1
	case d > c.NotAfter:
		return 1
	}
	return 0
}

// appendSigned appends the fields the issuer signs: everything but the
// signature.
func (c *Certificate) appendSigned(b []byte) ([]byte, error) {
	if !c.Algorithm.Known() {
		return b, fmt.Errorf("certificate algorithm %d: %w", c.Algorithm, ErrMalformed)
	}
	if len(c.PhoneKey) != c.Algorithm.PublicKeySize() {
		return b, fmt.Errorf("phone key of %d bytes for %s: %w", len(c.PhoneKey), c.Algorithm, ErrMalformed)
	}
	region, err := packRegion(c.Region)
	if err != nil {
		return b, err
	}
	b = append(b, c.Version, byte(c.Algorithm))
	b = binary.BigEndian.AppendUint16(b, uint16(c.KeyID))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Serial))
	b = append(b, c.Person[:]...)
	b = append(b, region[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(c.NotBefore))
	b = binary.BigEndian.AppendUint16(b, uint16(c.NotAfter))
	return append(b, c.PhoneKey...), nil
}

// AppendBinary appends the certificate's wire form to b.
func (c *Certificate) AppendBinary(b []byte) ([]byte, error) {
	b, err := c.appendSigned(b)
	if err != nil {
		return b, err
	}
	if len(c.Signature) != SignatureSize {
		return b, fmt.Errorf("certificate signature of %d bytes: %w", len(c.Signature), ErrMalformed)
	}
	return append(b, c.Signature...), nil
}

// MarshalBinary is the certificate's wire form.
func (c *Certificate) MarshalBinary() ([]byte, error) {
	return c.AppendBinary(make([]byte, 0, CertificateSize(c.Algorithm)))
}

// ParseCertificate reads a certificate in its wire form, checking its
// layout only: signatures and dates are the Verifier's.
func ParseCertificate(b []byte) (*Certificate, error) {
	c, n, err := parseCertificate(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("certificate: %d bytes after it: %w", len(b)-n, ErrMalformed)
	}
	return c, nil
}

// parseCertificate reads the certificate at the start of b and returns its
// length.
func parseCertificate(b []byte) (*Certificate, int, error) {
	if len(b) < offPhoneKey {
		return nil, 0, fmt.Errorf("certificate of %d bytes: %w", len(b), ErrMalformed)
	}
	if b[offVersion] != CertificateVersion {
		return nil, 0, fmt.Errorf("certificate version %d: %w", b[offVersion], ErrUnsupportedVersion)
	}
	alg := Algorithm(b[offAlgorithm])
	if !alg.Known() {
		return nil, 0, fmt.Errorf("certificate algorithm %d: %w", b[offAlgorithm], ErrMalformed)
	}
	n := CertificateSize(alg)
	if len(b) < n {
		return nil, 0, fmt.Errorf("%s certificate of %d bytes, want %d: %w", alg, len(b), n, ErrMalformed)
	}
	region, err := unpackRegion(b[offRegion : offRegion+3])
	if err != nil {
		return nil, 0, err
	}
	sigAt := offPhoneKey + alg.PublicKeySize()
	c := &Certificate{
		Version:   b[offVersion],
		Algorithm: alg,
		KeyID:     KeyID(binary.BigEndian.Uint16(b[offKeyID:])),
		Serial:    Serial(binary.BigEndian.Uint64(b[offSerial:])),
		Region:    region,
		NotBefore: Day(binary.BigEndian.Uint16(b[offNotBefore:])),
		NotAfter:  Day(binary.BigEndian.Uint16(b[offNotAfter:])),
		PhoneKey:  bytes.Clone(b[offPhoneKey:sigAt]),
		Signature: bytes.Clone(b[sigAt:n]),
	}
	copy(c.Person[:], b[offPerson:offRegion])
	return c, n, nil
}

// packRegion writes 6 decimal digits as 3 bytes of BCD.
func packRegion(s string) ([3]byte, error) {
	var out [3]byte
	if len(s) != 6 {
		return out, fmt.Errorf("region %q: want 6 digits: %w", s, ErrMalformed)
	}
	for i := range 6 {
		d := s[i] - '0'
		if d > 9 {
			return out, fmt.Errorf("region %q: want 6 digits: %w", s, ErrMalformed)
		}
		out[i/2] |= d << (4 * (1 - i%2))
	}
	return out, nil
}

func unpackRegion(b []byte) (string, error) {
	var out [6]byte
	for i := range 6 {
		d := b[i/2] >> (4 * (1 - i%2)) & 0x0f
		if d > 9 {
			return "", fmt.Errorf("region nibble %x: %w", d, ErrMalformed)
		}
		out[i] = '0' + d
	}
	return string(out[:]), nil
}
