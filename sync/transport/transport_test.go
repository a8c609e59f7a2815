package transport_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/sync/transport"
)

func TestTheTifSignatureIsSHA256OfTimestampTokenNonceTimestamp(t *testing.T) {
	// The formula of two independent implementations (research notes
	// §10.3): lowercase hex SHA-256 of timestamp+token+nonce+timestamp.
	sum := sha256.Sum256([]byte("1737000000" + "paas-token" + "3f2a" + "1737000000"))
	if got := transport.TifSignature("1737000000", "paas-token", "3f2a"); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("signature %s", got)
	}
}

func TestTheTifVerifierChecksEveryHeader(t *testing.T) {
	now := time.Unix(1_737_000_000, 0)
	v := transport.TifVerifier{Token: func(p string) (string, bool) { return "tok", p == "P1" }, Window: time.Minute}
	h := func(paas, ts, nonce, sig string) http.Header {
		return http.Header{"X-Tif-Paasid": {paas}, "X-Tif-Timestamp": {ts}, "X-Tif-Nonce": {nonce}, "X-Tif-Signature": {sig}}
	}
	good := transport.TifSignature("1737000000", "tok", "n1")
	if req, err := v.Verify(h("P1", "1737000000", "n1", strings.ToUpper(good)), now); err != nil || req.Nonce != "n1" || req.PaasID != "P1" {
		t.Fatalf("an uppercase signature: %+v %v", req, err)
	}
	for name, tt := range map[string]struct {
		h    http.Header
		want transport.GatewayRefusal
	}{
		"no nonce":          {h("P1", "1737000000", "", good), transport.RefuseMissingHeaders},
		"an unknown user":   {h("P2", "1737000000", "n1", good), transport.RefuseUnknownUser},
		"another nonce":     {h("P1", "1737000000", "n2", good), transport.RefuseSignature},
		"a stale time":      {h("P1", "1736999000", "n1", transport.TifSignature("1736999000", "tok", "n1")), transport.RefuseStale},
		"milliseconds":      {h("P1", "1737000000000", "n1", transport.TifSignature("1737000000000", "tok", "n1")), transport.RefuseStale},
		"an overlong nonce": {h("P1", "1737000000", strings.Repeat("n", 65), good), transport.RefuseMissingHeaders},
	} {
		if _, err := v.Verify(tt.h, now); err != tt.want {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
	}
}

func TestSM4RoundTripsAndAWrongKeyIsNoPlaintext(t *testing.T) {
	key, other := make([]byte, 16), make([]byte, 16)
	_, _ = rand.Read(key)
	_, _ = rand.Read(other)
	for _, msg := range []string{"", "{}", `{"data":{"psn_no":"P1"}}`, strings.Repeat("x", 16)} {
		ct, err := transport.SM4Encrypt(key, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := transport.SM4Decrypt(key, ct)
		if err != nil || string(plain) != msg {
			t.Fatalf("%q: %q %v", msg, plain, err)
		}
	}
	ct, _ := transport.SM4Encrypt(key, []byte(`{"data":{"psn_no":"P1"}}`))
	if plain, err := transport.SM4Decrypt(other, ct); err == nil && strings.Contains(string(plain), "psn_no") {
		t.Fatal("decrypted with another key")
	}
	if _, err := transport.SM4Decrypt(key, "not base64!"); !errors.Is(err, transport.ErrSeal) {
		t.Fatalf("a bad ciphertext: %v", err)
	}
}

func TestSM2SignaturesAndKeyFiles(t *testing.T) {
	k, _ := sm2.GenerateKey(rand.Reader)
	sig, err := transport.SM2Sign(k, []byte("input"))
	if err != nil {
		t.Fatal(err)
	}
	if err := transport.SM2Verify(&k.PublicKey, []byte("input"), sig); err != nil {
		t.Fatal(err)
	}
	if err := transport.SM2Verify(&k.PublicKey, []byte("other"), sig); !errors.Is(err, transport.ErrSeal) {
		t.Fatalf("another message verified: %v", err)
	}
	dir := t.TempDir()
	priv, _ := transport.PEMPrivateKey(k)
	pub, _ := transport.PEMPublicKey(&k.PublicKey)
	_ = os.WriteFile(filepath.Join(dir, "k.pem"), priv, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "p.pem"), pub, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "sm4.key"), []byte("00112233445566778899aabbccddeeff\n"), 0o600)
	lk, err := transport.LoadSM2PrivateKey(filepath.Join(dir, "k.pem"))
	if err != nil || !lk.Equal(k) {
		t.Fatalf("private key: %v", err)
	}
	lp, err := transport.LoadSM2PublicKey(filepath.Join(dir, "p.pem"))
	if err != nil || !lp.Equal(&k.PublicKey) {
		t.Fatalf("public key: %v", err)
	}
	if key, err := transport.LoadSM4Key(filepath.Join(dir, "sm4.key")); err != nil || len(key) != 16 {
		t.Fatalf("sm4 key: %v", err)
	}
	if _, err := transport.LoadSM2PublicKey(filepath.Join(dir, "k.pem")); !errors.Is(err, transport.ErrConfig) {
		t.Fatalf("a private key read as a public one: %v", err)
	}
}
