package transport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"
)

// The oauth_sm protection: SM4 in ECB mode with PKCS#7 padding, as the
// public provincial libraries use it (YH-GM's OpensslSM4), base64 rather
// than their hex because the design names base64; SM2 signatures with SM3
// and the default user id 1234567812345678, ASN.1 DER, base64. ECB leaks
// repeated blocks; it is what the gateways speak, so the key must be the
// gateway's per-institution key and never reused elsewhere.

// SM4KeyLen is the length of an SM4 key in bytes.
const SM4KeyLen = 16

// SM4Encrypt is base64(SM4-ECB-PKCS7(key, plain)).
func SM4Encrypt(key, plain []byte) (string, error) {
	b, err := sm4.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("%w: sm4 key: %v", ErrSeal, err)
	}
	bs := b.BlockSize()
	pad := bs - len(plain)%bs
	buf := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	for i := 0; i < len(buf); i += bs {
		b.Encrypt(buf[i:i+bs], buf[i:i+bs])
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}

// SM4Decrypt undoes SM4Encrypt.
func SM4Decrypt(key []byte, text string) ([]byte, error) {
	b, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: sm4 key: %v", ErrSeal, err)
	}
	buf, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrSeal)
	}
	bs := b.BlockSize()
	if len(buf) == 0 || len(buf)%bs != 0 {
		return nil, fmt.Errorf("%w: ciphertext is not whole blocks", ErrSeal)
	}
	for i := 0; i < len(buf); i += bs {
		b.Decrypt(buf[i:i+bs], buf[i:i+bs])
	}
	pad := int(buf[len(buf)-1])
	if pad == 0 || pad > bs || !bytes.Equal(buf[len(buf)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, fmt.Errorf("%w: bad padding (wrong key?)", ErrSeal)
	}
	return buf[:len(buf)-pad], nil
}

// SM2Sign is base64 of the SM2-with-SM3 signature of msg.
func SM2Sign(key *sm2.PrivateKey, msg []byte) (string, error) {
	sig, err := key.SignWithSM2(rand.Reader, nil, msg)
	if err != nil {
		return "", fmt.Errorf("%w: sign: %v", ErrSeal, err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SM2Verify checks a base64 SM2-with-SM3 signature of msg.
func SM2Verify(pub *ecdsa.PublicKey, msg []byte, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil || !sm2.VerifyASN1WithSM2(pub, nil, msg, raw) {
		return fmt.Errorf("%w: cainfo does not verify", ErrSeal)
	}
	return nil
}

// LoadSM2PrivateKey reads a PEM SM2 private key (PKCS#8 or SEC 1).
func LoadSM2PrivateKey(path string) (*sm2.PrivateKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	if k, err := smx509.ParseSM2PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := smx509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not an SM2 private key: %v", ErrConfig, path, err)
	}
	sk, ok := k.(*sm2.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not an SM2 private key", ErrConfig, path)
	}
	return sk, nil
}

// LoadSM2PublicKey reads a PEM SM2 public key (PKIX).
func LoadSM2PublicKey(path string) (*ecdsa.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	k, err := smx509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, fmt.Errorf("%w: %s: not an SM2 public key", ErrConfig, path)
	}
	return pub, nil
}

// LoadSM4Key reads a file holding an SM4 key as 32 hex digits.
func LoadSM4Key(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != SM4KeyLen {
		return nil, fmt.Errorf("%w: %s must hold an SM4 key as %d hex digits", ErrConfig, path, 2*SM4KeyLen)
	}
	return key, nil
}

// PEMPrivateKey and PEMPublicKey encode keys for key files (set-up and
// tests).
func PEMPrivateKey(k *sm2.PrivateKey) ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func PEMPublicKey(k *ecdsa.PublicKey) ([]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func readPEM(path string) (*pem.Block, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM block", ErrConfig, path)
	}
	return block, nil
}
