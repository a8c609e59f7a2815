package acp

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Sign sets f's signature: base64 of the SM2-with-SM3 signature (ASN.1,
// the default user id 1234567812345678) of f.Canonical(). Real ACP 5.1.0
// signs the SHA-256 of that string with the merchant's RSA certificate;
// the string is the same.
func Sign(key *sm2.PrivateKey, f Fields) error {
	f[FSignMethod] = SignMethodSM2
	delete(f, FSignature)
	sig, err := sm2.SignASN1(rand.Reader, key, []byte(f.Canonical()), sm2.NewSM2SignerOption(true, nil))
	if err != nil {
		return fmt.Errorf("sign: %w: %v", ErrKey, err)
	}
	f[FSignature] = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Verify checks f's signature against any of keys (more than one while a
// key is being rotated).
func Verify(keys []*ecdsa.PublicKey, f Fields) error {
	s := f[FSignature]
	if s == "" {
		return ErrUnsigned
	}
	if f[FSignMethod] != SignMethodSM2 {
		return fmt.Errorf("%w: signMethod %q, want %s", ErrSignature, f[FSignMethod], SignMethodSM2)
	}
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: not base64", ErrSignature)
	}
	msg := []byte(f.Canonical())
	for _, k := range keys {
		if sm2.VerifyASN1WithSM2(k, nil, msg, sig) {
			return nil
		}
	}
	return ErrSignature
}

// Encrypt seals a sensitive value (an ID number, a card number) for the
// channel, as ACP encrypts accNo and customerInfo: base64 of the SM2
// ciphertext (ASN.1, C1C3C2) under the channel's public key.
func Encrypt(key *ecdsa.PublicKey, plain string) (string, error) {
	ct, err := sm2.EncryptASN1(rand.Reader, key, []byte(plain))
	if err != nil {
		return "", fmt.Errorf("encrypt: %w: %v", ErrKey, err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// Decrypt opens what Encrypt sealed.
func Decrypt(key *sm2.PrivateKey, s string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w: not base64", ErrFormat)
	}
	pt, err := key.Decrypt(nil, ct, sm2.ASN1DecrypterOpts)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w: %v", ErrFormat, err)
	}
	return string(pt), nil
}

// ParsePrivateKey reads an SM2 private key in PEM, PKCS #8 ("PRIVATE
// KEY"), as `openssl genpkey -algorithm SM2` writes it.
func ParsePrivateKey(data []byte) (*sm2.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: not a PEM \"PRIVATE KEY\" (PKCS #8) block", ErrKey)
	}
	if len(rest) > 0 {
		if b, _ := pem.Decode(rest); b != nil {
			return nil, fmt.Errorf("%w: more than one PEM block", ErrKey)
		}
	}
	k, err := smx509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	sk, ok := k.(*sm2.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, not an SM2 key", ErrKey, k)
	}
	return sk, nil
}

// ParsePublicKeys reads one or more SM2 public keys in PEM ("PUBLIC KEY",
// PKIX), as `openssl pkey -pubout` writes them.
func ParsePublicKeys(data []byte) ([]*ecdsa.PublicKey, error) {
	var keys []*ecdsa.PublicKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: a PEM %q block, want \"PUBLIC KEY\"", ErrKey, block.Type)
		}
		k, err := smx509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		pk, ok := k.(*ecdsa.PublicKey)
		if !ok || !sm2.IsSM2PublicKey(pk) {
			return nil, fmt.Errorf("%w: a %T, not an SM2 public key", ErrKey, k)
		}
		keys = append(keys, pk)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no PEM \"PUBLIC KEY\" block", ErrKey)
	}
	return keys, nil
}

// MarshalPrivateKey writes key as ParsePrivateKey reads it.
func MarshalPrivateKey(key *sm2.PrivateKey) ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey writes key as ParsePublicKeys reads it.
func MarshalPublicKey(key *ecdsa.PublicKey) ([]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
