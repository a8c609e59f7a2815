// Package seal encrypts small records at rest with SM4-GCM, the national
// block cipher in an authenticated mode, under a key kept in its own file.
// The journal uses it for personal fields (ID number, name, card data), so
// that a copy of the journal file alone reveals no patient.
package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"github.com/emmansun/gmsm/sm4"
)

// KeySize is the length of an SM4 key in bytes.
const KeySize = 16

// Key is an SM4 key.
type Key [KeySize]byte

// Sealer seals and opens records under one key. It is safe for concurrent
// use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for key.
func New(key Key) (*Sealer, error) {
	block, err := sm4.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("sm4 key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sm4-gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Overhead is how many bytes Seal adds to a plaintext: the nonce and the
// authentication tag.
func (s *Sealer) Overhead() int { return s.aead.NonceSize() + s.aead.Overhead() }

// Seal encrypts plaintext bound to aad and returns nonce||ciphertext||tag.
// The nonce is random: records are sealed again on every update, and a
// counter would have to survive crashes and restored backups to stay
// unique, which a random 96-bit nonce does not need.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, s.aead.NonceSize(), s.Overhead()+len(plaintext))
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, out, plaintext, aad), nil
}

// Open authenticates and decrypts what Seal returned for the same aad. A
// wrong key, another aad or any altered byte gives ErrAuth, never garbage.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < s.Overhead() {
		return nil, fmt.Errorf("open: %d bytes is shorter than nonce and tag: %w", len(sealed), ErrAuth)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("open: %w", ErrAuth)
	}
	return plain, nil
}
