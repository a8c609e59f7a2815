package credential_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm2/sm2ec"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/credential/base45"
)

func TestPrivateKeysSurviveMarshalling(t *testing.T) {
	for _, alg := range algs {
		k, err := credential.GenerateKey(alg, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := credential.ParsePrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Public().Equal(k.Public()) || back.Algorithm() != alg {
			t.Errorf("%s key changed in a round trip", alg)
		}
	}
	for _, bad := range [][]byte{nil, {1, 2}, append([]byte{9}, make([]byte, 32)...), append([]byte{2}, make([]byte, 32)...)} {
		if _, err := credential.ParsePrivateKey(bad); !errors.Is(err, credential.ErrKey) {
			t.Errorf("ParsePrivateKey(%x) = %v, want ErrKey", bad, err)
		}
	}
}

func TestKeysFromSeedsAreDeterministic(t *testing.T) {
	for _, alg := range algs {
		a, _ := credential.NewKeyFromSeed(alg, issuerSeed)
		b, _ := credential.NewKeyFromSeed(alg, issuerSeed)
		c, _ := credential.NewKeyFromSeed(alg, phoneSeed)
		if !a.Public().Equal(b.Public()) || a.Public().Equal(c.Public()) {
			t.Errorf("%s: same seed gives different keys, or different seeds the same", alg)
		}
		if _, err := credential.NewKeyFromSeed(alg, issuerSeed[:31]); !errors.Is(err, credential.ErrKey) {
			t.Errorf("%s: short seed: %v", alg, err)
		}
	}
}

func TestParsePublicKeyRefusesBadKeys(t *testing.T) {
	good, _ := credential.NewKeyFromSeed(credential.SM2SM3, phoneSeed)
	raw := good.Public().Bytes()
	flipped := bytes.Clone(raw)
	flipped[0] ^= 1 // the other Y: still a point, a different key
	for _, tc := range []struct {
		name string
		alg  credential.Algorithm
		key  []byte
	}{
		{"unknown algorithm", 7, raw},
		{"ed25519 key too long", credential.Ed25519, raw},
		{"sm2 key too short", credential.SM2SM3, raw[:32]},
		{"sm2 x beyond the field", credential.SM2SM3, append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...)},
		{"sm2 bad prefix", credential.SM2SM3, append([]byte{5}, raw[1:]...)},
	} {
		if _, err := credential.ParsePublicKey(tc.alg, tc.key); !errors.Is(err, credential.ErrKey) {
			t.Errorf("%s: %v, want ErrKey", tc.name, err)
		}
	}
	other, err := credential.ParsePublicKey(credential.SM2SM3, flipped)
	if err != nil || other.Equal(good.Public()) {
		t.Errorf("the point with the other Y: %v", err)
	}
}

// The signatures are the standard algorithms: checked here with the
// libraries directly, not through this package.
func TestSignaturesAreStandard(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			w := newWorld(t, alg)
			text, err := w.phone.Code(vectorTime, 1)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := base45.DecodeString(strings.TrimPrefix(text, credential.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			certEnd := credential.CertificateSize(alg)
			certMsg := append([]byte("YB1-CERT"), raw[:certEnd-credential.SignatureSize]...)
			codeMsg := append([]byte("YB1-CODE"), raw[:len(raw)-credential.SignatureSize]...)
			if !standardVerify(t, alg, w.issuer.Key.Public().Bytes(), certMsg, raw[certEnd-credential.SignatureSize:certEnd]) {
				t.Error("issuer signature does not verify with the library")
			}
			if !standardVerify(t, alg, w.phone.Key.Public().Bytes(), codeMsg, raw[len(raw)-credential.SignatureSize:]) {
				t.Error("phone signature does not verify with the library")
			}
		})
	}
}

// standardVerify checks sig with crypto/ed25519, or with gmsm's SM2 (SM3,
// default user id) after turning r||s back into DER.
func standardVerify(t testing.TB, alg credential.Algorithm, pub, msg, sig []byte) bool {
	if alg == credential.Ed25519 {
		return ed25519.Verify(pub, msg, sig)
	}
	x, y := sm2ec.UnmarshalCompressed(sm2.P256(), pub)
	if x == nil {
		t.Fatalf("public key %x not on the curve", pub)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:32]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[32:]))
	})
	//lint:ignore SA1019 gmsm v0.15.5 takes SM2 keys only as ecdsa coordinates
	key := &ecdsa.PublicKey{Curve: sm2.P256(), X: x, Y: y}
	return sm2.VerifyASN1WithSM2(key, nil, msg, b.BytesOrPanic())
}

func TestIssueRefusesWhatItCannotCertify(t *testing.T) {
	w := newWorld(t, credential.Ed25519)
	smPhone, _ := credential.NewKeyFromSeed(credential.SM2SM3, phoneSeed)
	tmpl := *w.phone.Certificate
	if _, err := w.issuer.Issue(tmpl, smPhone.Public()); !errors.Is(err, credential.ErrIssue) {
		t.Errorf("SM2 phone under an Ed25519 issuer: %v", err)
	}
	backwards := tmpl
	backwards.NotBefore, backwards.NotAfter = tmpl.NotAfter, tmpl.NotBefore
	if _, err := w.issuer.Issue(backwards, w.phone.Key.Public()); !errors.Is(err, credential.ErrIssue) {
		t.Errorf("validity ending before it starts: %v", err)
	}
	for _, region := range []string{"44010", "44010a", "4401000"} {
		bad := tmpl
		bad.Region = region
		if _, err := w.issuer.Issue(bad, w.phone.Key.Public()); !errors.Is(err, credential.ErrIssue) {
			t.Errorf("region %q: %v", region, err)
		}
	}
	other, _ := credential.NewKeyFromSeed(credential.Ed25519, issuerSeed)
	if _, err := credential.NewPhone(w.phone.Certificate, other, 0); !errors.Is(err, credential.ErrKey) {
		t.Errorf("NewPhone with a key the certificate does not name: %v", err)
	}
}

func TestPhoneNextCountsUp(t *testing.T) {
	f := newFixture(t, credential.SM2SM3)
	for want := uint32(1); want <= 3; want++ {
		text, err := f.phone.Next(f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if id := mustVerify(f, text); id.Counter != want || f.phone.Last() != want {
			t.Errorf("code %d has counter %d, phone says %d", want, id.Counter, f.phone.Last())
		}
		f.clk.Advance(time.Second)
	}
	spent, err := credential.NewPhone(f.phone.Certificate, f.phone.Key, 1<<32-1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spent.Next(f.clk.Now()); !errors.Is(err, credential.ErrIssue) {
		t.Errorf("Next past the last counter: %v", err)
	}
}

func TestParseReadsTheLayoutAndMarshalsItBack(t *testing.T) {
	for _, alg := range algs {
		w := newWorld(t, alg)
		text, err := w.phone.Code(vectorTime, 42)
		if err != nil {
			t.Fatal(err)
		}
		c, err := credential.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		if c.Counter != 42 || !c.Time.Equal(vectorTime) || c.Certificate.Region != "440100" ||
			c.Certificate.Serial.String() != "0123456789abcdef" || c.Certificate.NotBefore.String() != "2026-01-01" {
			t.Errorf("%s: parsed %+v", alg, c)
		}
		back, err := c.MarshalText()
		if err != nil || string(back) != text {
			t.Errorf("%s: MarshalText = %q, %v", alg, back, err)
		}
		certBytes, _ := c.Certificate.MarshalBinary()
		cert, err := credential.ParseCertificate(certBytes)
		if err != nil || cert.Serial != c.Certificate.Serial {
			t.Errorf("%s: ParseCertificate = %+v, %v", alg, cert, err)
		}
		if _, err := credential.ParseCertificate(append(certBytes, 0)); !errors.Is(err, credential.ErrMalformed) {
			t.Errorf("%s: certificate with a trailing byte: %v", alg, err)
		}
	}
}

func TestDaysAreChinaStandardTimeDays(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 0, 0, 0, 0, cst), "2026-03-01"},
		{time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC), "2026-03-01"},
		{time.Date(2026, 2, 28, 15, 59, 59, 0, time.UTC), "2026-02-28"},
		{time.Date(2026, 3, 1, 23, 59, 59, 0, cst), "2026-03-01"},
	} {
		d := credential.DayOf(tc.at)
		if d.String() != tc.want {
			t.Errorf("DayOf(%v) = %s, want %s", tc.at, d, tc.want)
		}
		if credential.DayOf(d.Start()) != d || d.Start().After(tc.at) {
			t.Errorf("%s starts at %v", d, d.Start())
		}
	}
}

func TestIdentityLogsNoPersonToken(t *testing.T) {
	f := newFixture(t, credential.Ed25519)
	id := mustVerify(f, f.code(0, 1))
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("verified", "identity", id)
	if strings.Contains(out.String(), hex.EncodeToString(person[:])) {
		t.Errorf("log holds the person token in clear: %s", out.String())
	}
	if !strings.Contains(out.String(), "0123456789abcdef") || !strings.Contains(out.String(), "440100") {
		t.Errorf("log lacks serial or region: %s", out.String())
	}
}
