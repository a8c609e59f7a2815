// Package psam is the secure module that answers a 3rd-generation
// social-security card's external authentication: a PSAM card in a second
// PC/SC reader, driven with the command set documented below, and the
// reference computation of that command set.
//
// The PSAM commands of real social-security terminals are proprietary and
// differ by vendor. This package defines one set, in the style of the
// PBOC PSAM commands, so that the agent, the virtual PSAM and any PSAM
// personalised for it agree:
//
//	SELECT      00 A4 04 00 06 D1 56 00 00 05 90          the PSAM application
//	DIVERSIFY   80 1A 00 <key id> 10 <card identifier>    card key := SM4-ECB(master[key id], identifier)
//	ENCRYPT     80 FA 00 00 08 <challenge> 10             SM4-ECB(card key, challenge ‖ 00×8)
//
// The card identifier (EF05 tag 01, 16 bytes) already contains the issuing
// region, so it is the whole diversification factor. The 16-byte result of
// ENCRYPT is the data of the card's EXTERNAL AUTHENTICATE
// (00 82 00 <key id> 10 <cryptogram>). DIVERSIFY keeps the card key in the
// PSAM's volatile memory until the next DIVERSIFY or reset; ENCRYPT without
// it answers 6985.
package psam

import (
	"fmt"

	"github.com/emmansun/gmsm/sm4"
)

// Sizes fixed by the card and the command set.
const (
	KeySize       = 16
	CardIDSize    = 16
	ChallengeSize = 8
	// CryptogramSize is one SM4 block: the challenge padded with zeros.
	CryptogramSize = 16
)

// AID is the PSAM application's name, D1 56 00 00 05 90.
var AID = []byte{0xD1, 0x56, 0x00, 0x00, 0x05, 0x90}

// Instructions of the command set (CLA 80).
const (
	CLA          byte = 0x80
	INSDiversify byte = 0x1A
	INSEncrypt   byte = 0xFA
)

// CardKey derives a card's external-authentication key from the master
// key: SM4-ECB(master, identifier). The card holds the result; the PSAM
// holds the master and computes it per card.
func CardKey(master, cardID []byte) ([]byte, error) {
	if len(cardID) != CardIDSize {
		return nil, fmt.Errorf("%w: card identifier has %d bytes, want %d", ErrBadRequest, len(cardID), CardIDSize)
	}
	return encryptBlock(master, cardID)
}

// Cryptogram is what proves the terminal holds the card key:
// SM4-ECB(card key, challenge ‖ 00×8).
func Cryptogram(cardKey, challenge []byte) ([]byte, error) {
	if len(challenge) != ChallengeSize {
		return nil, fmt.Errorf("%w: challenge has %d bytes, want %d", ErrBadRequest, len(challenge), ChallengeSize)
	}
	block := make([]byte, CryptogramSize)
	copy(block, challenge)
	return encryptBlock(cardKey, block)
}

func encryptBlock(key, src []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadKey, len(key))
	}
	c, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	dst := make([]byte, len(src))
	c.Encrypt(dst, src)
	return dst, nil
}
