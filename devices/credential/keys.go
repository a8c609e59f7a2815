package credential

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm2/sm2ec"
	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Algorithm is the signature algorithm of a certificate: the issuer's
// signature on it and the phone's key in it use the same one.
type Algorithm uint8

const (
	// Ed25519 (RFC 8032), the default.
	Ed25519 Algorithm = 1
	// SM2SM3 is SM2 signatures (GB/T 32918.2) over an SM3 digest with the
	// default user id "1234567812345678", as the national platform uses.
	SM2SM3 Algorithm = 2
)

// Sizes of keys and signatures on the wire.
const (
	SignatureSize = 64 // Ed25519 R||S, SM2 r||s, each 32 bytes
	SeedSize      = 32
)

func (a Algorithm) String() string {
	switch a {
	case Ed25519:
		return "ed25519"
	case SM2SM3:
		return "sm2-sm3"
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// Known reports whether a is one of the algorithms this package supports.
func (a Algorithm) Known() bool { return a == Ed25519 || a == SM2SM3 }

// PublicKeySize is the size of a's public key on the wire: 32 bytes for
// Ed25519, 33 for an SM2 point in compressed form (02 or 03, then X).
func (a Algorithm) PublicKeySize() int {
	switch a {
	case Ed25519:
		return ed25519.PublicKeySize
	case SM2SM3:
		return 33
	}
	return 0
}

// MarshalText names the algorithm in the trust list.
func (a Algorithm) MarshalText() ([]byte, error) {
	if !a.Known() {
		return nil, fmt.Errorf("algorithm %d: %w", uint8(a), ErrKey)
	}
	return []byte(a.String()), nil
}

// UnmarshalText reads "ed25519" or "sm2-sm3".
func (a *Algorithm) UnmarshalText(b []byte) error {
	switch string(b) {
	case "ed25519":
		*a = Ed25519
	case "sm2-sm3":
		*a = SM2SM3
	default:
		return fmt.Errorf("algorithm %q: %w", b, ErrKey)
	}
	return nil
}

// PrivateKey is an issuer's or a phone's signing key.
type PrivateKey struct {
	alg Algorithm
	ed  ed25519.PrivateKey
	sm  *sm2.PrivateKey
	pub *PublicKey
}

// PublicKey is a verifying key, parsed once so that a verification does not
// decode it again.
type PublicKey struct {
	alg Algorithm
	raw []byte
	ed  ed25519.PublicKey
	sm  *ecdsa.PublicKey
}

// GenerateKey makes a new key pair from the randomness of r (crypto/rand
// when nil).
func GenerateKey(alg Algorithm, r io.Reader) (*PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return NewKeyFromSeed(alg, seed)
}

// NewKeyFromSeed derives a key pair from a 32-byte seed, deterministically:
// the same seed always gives the same key, for test vectors and for the
// sandbox's personas. For Ed25519 the seed is the RFC 8032 private key. For
// SM2 the private scalar is the first block SM3(seed || uint32 i), for i =
// 0, 1, ..., that lies in [1, n-1].
func NewKeyFromSeed(alg Algorithm, seed []byte) (*PrivateKey, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("seed of %d bytes, want %d: %w", len(seed), SeedSize, ErrKey)
	}
	switch alg {
	case Ed25519:
		return newEd25519(ed25519.NewKeyFromSeed(seed)), nil
	case SM2SM3:
		n := sm2.P256().Params().N
		for i := uint32(0); ; i++ {
			h := sm3.New()
			h.Write(seed)
			h.Write(binary.BigEndian.AppendUint32(nil, i))
			d := new(big.Int).SetBytes(h.Sum(nil))
			if d.Sign() > 0 && d.Cmp(n) < 0 {
				return newSM2(d)
			}
		}
	}
	return nil, fmt.Errorf("%s: %w", alg, ErrKey)
}

// ParsePrivateKey reads a key written by MarshalBinary.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != 1+SeedSize {
		return nil, fmt.Errorf("private key of %d bytes: %w", len(b), ErrKey)
	}
	switch alg := Algorithm(b[0]); alg {
	case Ed25519:
		return newEd25519(ed25519.NewKeyFromSeed(b[1:])), nil
	case SM2SM3:
		d := new(big.Int).SetBytes(b[1:])
		if d.Sign() == 0 || d.Cmp(sm2.P256().Params().N) >= 0 {
			return nil, fmt.Errorf("sm2 scalar out of range: %w", ErrKey)
		}
		return newSM2(d)
	default:
		return nil, fmt.Errorf("%s: %w", alg, ErrKey)
	}
}

func newEd25519(k ed25519.PrivateKey) *PrivateKey {
	pub := k.Public().(ed25519.PublicKey)
	return &PrivateKey{alg: Ed25519, ed: k, pub: &PublicKey{alg: Ed25519, raw: pub, ed: pub}}
}

func newSM2(d *big.Int) (*PrivateKey, error) {
	scalar := d.FillBytes(make([]byte, 32))
	// The scalar base multiplication of gmsm's ECDH type, rather than the
	// deprecated elliptic.Curve methods.
	ek, err := ecdh.P256().NewPrivateKey(scalar)
	if err != nil {
		return nil, fmt.Errorf("sm2 key: %w", ErrKey)
	}
	point := ek.PublicKey().Bytes() // 04 || X || Y
	priv := &sm2.PrivateKey{}
	priv.Curve = sm2.P256()
	priv.D = d
	priv.X = new(big.Int).SetBytes(point[1:33])
	priv.Y = new(big.Int).SetBytes(point[33:65])
	raw := make([]byte, 33)
	raw[0] = 2 | point[64]&1
	copy(raw[1:], point[1:33])
	return &PrivateKey{alg: SM2SM3, sm: priv, pub: &PublicKey{alg: SM2SM3, raw: raw, sm: &priv.PublicKey}}, nil
}

// Algorithm is the key's algorithm.
func (k *PrivateKey) Algorithm() Algorithm { return k.alg }

// Public is the key's public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// MarshalBinary writes the algorithm and the 32-byte secret (the Ed25519
// seed, or the SM2 scalar), for the sandbox's key files.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	out := []byte{byte(k.alg)}
	switch k.alg {
	case Ed25519:
		return append(out, k.ed.Seed()...), nil
	case SM2SM3:
		return append(out, k.sm.D.FillBytes(make([]byte, 32))...), nil
	}
	return nil, ErrKey
}

// sign signs msg; SM2 signatures are randomised (crypto/rand) and written
// as fixed-width r||s rather than ASN.1, to keep codes small.
func (k *PrivateKey) sign(msg []byte) ([]byte, error) {
	switch k.alg {
	case Ed25519:
		return ed25519.Sign(k.ed, msg), nil
	case SM2SM3:
		der, err := sm2.SignASN1(rand.Reader, k.sm, msg, sm2.NewSM2SignerOption(true, nil))
		if err != nil {
			return nil, fmt.Errorf("sm2 sign: %w", err)
		}
		var r, s []byte
		in := cryptobyte.String(der)
		var seq cryptobyte.String
		if !in.ReadASN1(&seq, asn1.SEQUENCE) || !seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) {
			return nil, fmt.Errorf("sm2 sign: unexpected signature encoding")
		}
		sig := make([]byte, SignatureSize)
		new(big.Int).SetBytes(r).FillBytes(sig[:32])
		new(big.Int).SetBytes(s).FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("sign with %s: %w", k.alg, ErrKey)
}

// ParsePublicKey reads a public key of alg in its wire form; an SM2 point
// must be compressed and on the curve.
func ParsePublicKey(alg Algorithm, b []byte) (*PublicKey, error) {
	if !alg.Known() {
		return nil, fmt.Errorf("%s: %w", alg, ErrKey)
	}
	if len(b) != alg.PublicKeySize() {
		return nil, fmt.Errorf("%s public key of %d bytes: %w", alg, len(b), ErrKey)
	}
	raw := bytes.Clone(b)
	if alg == Ed25519 {
		return &PublicKey{alg: alg, raw: raw, ed: ed25519.PublicKey(raw)}, nil
	}
	x, y := sm2ec.UnmarshalCompressed(sm2.P256(), raw)
	if x == nil {
		return nil, fmt.Errorf("sm2 public key not a compressed curve point: %w", ErrKey)
	}
	//lint:ignore SA1019 gmsm v0.15.5 takes SM2 keys only as ecdsa coordinates
	return &PublicKey{alg: alg, raw: raw, sm: &ecdsa.PublicKey{Curve: sm2.P256(), X: x, Y: y}}, nil
}

// Algorithm is the key's algorithm.
func (p *PublicKey) Algorithm() Algorithm { return p.alg }

// Bytes is the key in its wire form.
func (p *PublicKey) Bytes() []byte { return bytes.Clone(p.raw) }

// Equal reports whether p and q are the same key.
func (p *PublicKey) Equal(q *PublicKey) bool {
	return p.alg == q.alg && bytes.Equal(p.raw, q.raw)
}

// verify reports whether sig is p's signature of msg.
func (p *PublicKey) verify(msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	switch p.alg {
	case Ed25519:
		return ed25519.Verify(p.ed, msg, sig)
	case SM2SM3:
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1BigInt(new(big.Int).SetBytes(sig[:32]))
			b.AddASN1BigInt(new(big.Int).SetBytes(sig[32:]))
		})
		der, err := b.Bytes()
		if err != nil {
			return false
		}
		return sm2.VerifyASN1WithSM2(p.sm, nil, msg, der)
	}
	return false
}
