package credential_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/credential/base45"
	"github.com/seed-a859fada/medterm/devices/credential/credtest"
)

var update = flag.Bool("update", false, "rewrite the test vectors in FORMAT.md")

const (
	formatFile    = "FORMAT.md"
	vectorsMarker = "<!-- vectors:"
)

var (
	cst        = time.FixedZone("CST", 8*3600)
	vectorTime = time.Date(2026, 3, 1, 9, 30, 0, 0, cst)
	issuerSeed = seq(0x00, 32)
	phoneSeed  = seq(0x20, 32)
	person     = credential.PersonToken(seq(0xa0, 16))
	algs       = []credential.Algorithm{credential.Ed25519, credential.SM2SM3}
)

func seq(from byte, n int) (out []byte) {
	for i := range n {
		out = append(out, from+byte(i))
	}
	return out
}

// vectorKeyID gives each algorithm's issuer its own key id, so that one
// trust list holds both.
func vectorKeyID(alg credential.Algorithm) credential.KeyID { return credential.KeyID(alg) }

// world is an issuer and a phone made from the vector inputs.
type world struct {
	issuer *credential.Issuer
	phone  *credential.Phone
}

func newWorld(t testing.TB, alg credential.Algorithm) world {
	t.Helper()
	ik, err := credential.NewKeyFromSeed(alg, issuerSeed)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := credential.NewKeyFromSeed(alg, phoneSeed)
	if err != nil {
		t.Fatal(err)
	}
	is := &credential.Issuer{KeyID: vectorKeyID(alg), Key: ik}
	cert, err := is.Issue(credential.Certificate{
		Serial:    0x0123456789abcdef,
		Person:    person,
		Region:    "440100",
		NotBefore: credential.DayOf(time.Date(2026, 1, 1, 0, 0, 0, 0, cst)),
		NotAfter:  credential.DayOf(time.Date(2026, 12, 31, 0, 0, 0, 0, cst)),
	}, pk.Public())
	if err != nil {
		t.Fatal(err)
	}
	phone, err := credential.NewPhone(cert, pk, 0)
	if err != nil {
		t.Fatal(err)
	}
	return world{issuer: is, phone: phone}
}

// fresh computes a vector's fields from its inputs.
func fresh(t testing.TB, alg credential.Algorithm) map[string]string {
	w := newWorld(t, alg)
	cert, err := w.phone.Certificate.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	text, err := w.phone.Code(vectorTime, 42)
	if err != nil {
		t.Fatal(err)
	}
	code, err := base45.DecodeString(strings.TrimPrefix(text, credential.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"issuer.public_key": hex.EncodeToString(w.issuer.Key.Public().Bytes()),
		"phone.public_key":  hex.EncodeToString(w.phone.Key.Public().Bytes()),
		"certificate.hex":   hex.EncodeToString(cert),
		"code.hex":          hex.EncodeToString(code),
		"code.text":         text,
	}
}

var vectorFields = []string{"issuer.public_key", "phone.public_key", "certificate.hex", "code.hex", "code.text"}

// readVectors reads the "alg.field value" lines of FORMAT.md's vector
// block.
func readVectors(t testing.TB) map[string]string {
	doc, err := os.ReadFile(formatFile)
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := bytes.Cut(doc, []byte(vectorsMarker))
	if !ok {
		t.Fatalf("%s has no vector block", formatFile)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(block))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if key, value, ok := strings.Cut(sc.Text(), " "); ok && strings.Contains(key, ".") {
			// Base45 has a space in its alphabet: only the line end goes.
			out[key] = strings.TrimRight(value, "\r")
		}
	}
	return out
}

func writeVectors(t *testing.T) {
	doc, err := os.ReadFile(formatFile)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(doc, []byte(vectorsMarker))
	if at < 0 {
		t.Fatalf("%s has no vector block", formatFile)
	}
	header, _, _ := bytes.Cut(doc[at:], []byte("\n"))
	var b bytes.Buffer
	b.Write(doc[:at])
	b.Write(header)
	b.WriteString("\n```text\n")
	for _, alg := range algs {
		v := fresh(t, alg)
		for _, f := range vectorFields {
			fmt.Fprintf(&b, "%s.%s %s\n", alg, f, v[f])
		}
	}
	b.WriteString("```\n")
	if err := os.WriteFile(formatFile, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFormatVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	stored := readVectors(t)
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			want := fresh(t, alg)
			get := func(f string) string {
				v, ok := stored[alg.String()+"."+f]
				if !ok {
					t.Fatalf("%s has no %s.%s", formatFile, alg, f)
				}
				return v
			}
			for _, f := range []string{"issuer.public_key", "phone.public_key"} {
				if got := get(f); got != want[f] {
					t.Errorf("%s = %s, derived from the seed: %s", f, got, want[f])
				}
			}
			text := get("code.text")
			certHex, codeHex := get("certificate.hex"), get("code.hex")
			if alg == credential.Ed25519 {
				for _, f := range []string{"certificate.hex", "code.hex", "code.text"} {
					if got := get(f); got != want[f] {
						t.Errorf("%s differs from a fresh issue:\nstored %s\nfresh  %s", f, got, want[f])
					}
				}
			} else {
				sameButSignatures(t, alg, certHex, want["certificate.hex"], codeHex, want["code.hex"])
			}
			code, err := hex.DecodeString(codeHex)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(codeHex, certHex) {
				t.Errorf("code.hex does not start with certificate.hex")
			}
			if want := credential.Prefix + base45.EncodeToString(code); text != want {
				t.Errorf("code.text is not the prefix and the Base45 of code.hex")
			}
			verifyStored(t, alg, text)
		})
	}
}

// sameButSignatures compares two certificates and two codes everywhere but
// in their signatures.
func sameButSignatures(t *testing.T, alg credential.Algorithm, certA, certB, codeA, codeB string) {
	t.Helper()
	mask := func(h string, sigs ...int) string {
		b := []byte(h)
		for _, at := range sigs {
			for i := at * 2; i < (at+credential.SignatureSize)*2 && i < len(b); i++ {
				b[i] = 'x'
			}
		}
		return string(b)
	}
	certSig := credential.CertificateSize(alg) - credential.SignatureSize
	codeSig := credential.CodeSize(alg) - credential.SignatureSize
	if mask(certA, certSig) != mask(certB, certSig) {
		t.Errorf("certificate differs from a fresh issue outside its signature:\nstored %s\nfresh  %s", certA, certB)
	}
	if mask(codeA, certSig, codeSig) != mask(codeB, certSig, codeSig) {
		t.Errorf("code differs from a fresh one outside its signatures:\nstored %s\nfresh  %s", codeA, codeB)
	}
}

// verifyStored verifies a stored vector under the seeds' issuer key, at
// the vector's time.
func verifyStored(t *testing.T, alg credential.Algorithm, text string) {
	t.Helper()
	w := newWorld(t, alg)
	tl := &credential.TrustList{Version: 1, Keys: []credential.IssuerKey{
		w.issuer.TrustEntry(time.Date(2026, 1, 1, 0, 0, 0, 0, cst), time.Date(2027, 7, 1, 0, 0, 0, 0, cst)),
	}}
	v, err := credential.NewVerifier(tl, &credtest.Counters{}, clock.NewFake(vectorTime), credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), text)
	if err != nil {
		t.Fatalf("stored vector does not verify: %v", err)
	}
	if id.Serial != 0x0123456789abcdef || id.Person != person || id.Region != "440100" ||
		id.Counter != 42 || !id.CodeTime.Equal(vectorTime) || id.Algorithm != alg || id.KeyID != vectorKeyID(alg) {
		t.Errorf("stored vector verifies as %+v", id)
	}
}

// The trust list example in FORMAT.md is a valid list holding the Ed25519
// vector's issuer key.
func TestFormatTrustListExampleDecodes(t *testing.T) {
	doc, err := os.ReadFile(formatFile)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("```json\n"))
	example, _, ok2 := bytes.Cut(rest, []byte("```"))
	if !ok || !ok2 {
		t.Fatalf("%s has no JSON example", formatFile)
	}
	tl, err := credential.DecodeTrustList(example)
	if err != nil {
		t.Fatal(err)
	}
	want := newWorld(t, credential.Ed25519).issuer.TrustEntry(keyFrom, keyUntil)
	got := tl.Keys[0]
	if got.KeyID != want.KeyID || !bytes.Equal(got.PublicKey, want.PublicKey) ||
		!got.NotBefore.Equal(want.NotBefore) || !got.NotAfter.Equal(want.NotAfter) {
		t.Errorf("example key %+v, want the vector issuer %+v", got, want)
	}
}
