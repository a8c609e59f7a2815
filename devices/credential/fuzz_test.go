package credential_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/credential/base45"
)

// acceptAll is a counter store that never refuses, so that a fuzzed code
// is judged on its signatures and dates alone, in any order.
type acceptAll struct{}

func (acceptAll) Advance(context.Context, string, uint64) error { return nil }

// FuzzVerify feeds arbitrary text to the parser and the verifier. Neither
// may panic; whatever parses must marshal back to the same text; every
// error is opaque or a rejection; and nothing is accepted but the genuine
// codes the test itself made, since no one without the keys can make
// another.
func FuzzVerify(f *testing.F) {
	// The genuine codes must be the same in every fuzzing process: the
	// Ed25519 ones are deterministic, and for SM2 (randomised) the stored
	// vector stands in.
	tl := &credential.TrustList{Version: 1}
	genuine := map[string]credential.Algorithm{}
	for _, alg := range algs {
		w := newWorld(f, alg)
		tl.Keys = append(tl.Keys, w.issuer.TrustEntry(keyFrom, keyUntil))
	}
	ed := newWorld(f, credential.Ed25519)
	for n := uint32(1); n <= 3; n++ {
		text, err := ed.phone.Code(vectorTime, n)
		if err != nil {
			f.Fatal(err)
		}
		genuine[text] = credential.Ed25519
	}
	genuine[readVectors(f)["sm2-sm3.code.text"]] = credential.SM2SM3
	for _, text := range slices.Sorted(maps.Keys(genuine)) {
		f.Add(text)
		f.Add(text[:len(text)-2])
		f.Add(strings.Replace(text, "YB1:", "YB2:", 1))
	}
	f.Add("")
	f.Add("YB1:")
	f.Add("6225880123456789012")
	v, err := credential.NewVerifier(tl, acceptAll{}, clock.NewFake(vectorTime), credential.DefaultOptions())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if c, err := credential.Parse(text); err == nil {
			back, err := c.MarshalText()
			if err != nil || string(back) != text {
				t.Fatalf("Parse accepted %q but it marshals as %q, %v", text, back, err)
			}
		}
		id, err := v.Verify(context.Background(), text)
		if err != nil {
			if _, rejection := credential.Explain(err); !rejection && !errors.Is(err, credential.ErrOpaque) {
				t.Fatalf("Verify(%q) failed with neither a rejection nor ErrOpaque: %v", text, err)
			}
			return
		}
		alg, ok := genuine[text]
		if !ok {
			t.Fatalf("Verify accepted a code nobody signed: %q", text)
		}
		raw, err := base45.DecodeString(strings.TrimPrefix(text, credential.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		n := len(raw) - credential.SignatureSize
		c, _ := credential.Parse(text)
		if id.Algorithm != alg || id.Counter != c.Counter ||
			!standardVerify(t, alg, c.Certificate.PhoneKey, append([]byte("YB1-CODE"), raw[:n]...), raw[n:]) {
			t.Fatalf("accepted %q as %+v", text, id)
		}
	})
}
