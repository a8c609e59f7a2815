package credential_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm2/sm2ec"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/credential/base45"
)

// Verifying a code costs two signature verifications (the certificate's
// and the code's) plus decoding, and for SM2 the decompression of the
// phone's key. It is reported as a multiple of one bare verification of
// the same algorithm, measured in the same run ("x-bare-verify"), so
// about 2 is the best one can expect. Run with: go test -run '^$' -bench . ./devices/credential/

// bareVerify is one verification of the code's phone signature straight
// through the library, with the key already decoded.
type bareVerify func() bool

func newBareVerify(b *testing.B, alg credential.Algorithm, text string, pub []byte) bareVerify {
	raw, err := base45.DecodeString(strings.TrimPrefix(text, credential.Prefix))
	if err != nil {
		b.Fatal(err)
	}
	n := len(raw) - credential.SignatureSize
	msg, sig := append([]byte("YB1-CODE"), raw[:n]...), raw[n:]
	if alg == credential.Ed25519 {
		return func() bool { return ed25519.Verify(pub, msg, sig) }
	}
	x, y := sm2ec.UnmarshalCompressed(sm2.P256(), pub)
	//lint:ignore SA1019 gmsm v0.15.5 takes SM2 keys only as ecdsa coordinates
	key := &ecdsa.PublicKey{Curve: sm2.P256(), X: x, Y: y}
	var bld cryptobyte.Builder
	bld.AddASN1(asn1.SEQUENCE, func(bld *cryptobyte.Builder) {
		bld.AddASN1BigInt(new(big.Int).SetBytes(sig[:32]))
		bld.AddASN1BigInt(new(big.Int).SetBytes(sig[32:]))
	})
	der := bld.BytesOrPanic()
	return func() bool { return sm2.VerifyASN1WithSM2(key, nil, msg, der) }
}

func (v bareVerify) per(b *testing.B, n int) time.Duration {
	start := time.Now()
	for range n {
		if !v() {
			b.Fatal("bare verification failed")
		}
	}
	return time.Since(start) / time.Duration(n)
}

func benchSetup(b *testing.B, alg credential.Algorithm) (*credential.Verifier, string, bareVerify) {
	w := newWorld(b, alg)
	tl := &credential.TrustList{Version: 1, Keys: []credential.IssuerKey{w.issuer.TrustEntry(keyFrom, keyUntil)}}
	v, err := credential.NewVerifier(tl, acceptAll{}, clock.NewFake(vectorTime), credential.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	text, err := w.phone.Code(vectorTime, 1)
	if err != nil {
		b.Fatal(err)
	}
	return v, text, newBareVerify(b, alg, text, w.phone.Key.Public().Bytes())
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg.String(), func(b *testing.B) {
			v, text, bare := benchSetup(b, alg)
			bare.per(b, 20) // warm up
			before := bare.per(b, 300)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, text); err != nil {
					b.Fatal(err)
				}
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			after := bare.per(b, 300)
			b.ReportMetric(float64(perOp)/float64((before+after)/2), "x-bare-verify")
		})
	}
}

func BenchmarkBareVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg.String(), func(b *testing.B) {
			_, _, bare := benchSetup(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if !bare() {
					b.Fatal("bare verification failed")
				}
			}
			b.ReportMetric(1, "x-bare-verify")
		})
	}
}

// BenchmarkParse is the decoding alone, with no signature checked.
func BenchmarkParse(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg.String(), func(b *testing.B) {
			_, text, bare := benchSetup(b, alg)
			bare.per(b, 20)
			before := bare.per(b, 300)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := credential.Parse(text); err != nil {
					b.Fatal(err)
				}
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			after := bare.per(b, 300)
			b.ReportMetric(float64(perOp)/float64((before+after)/2), "x-bare-verify")
		})
	}
}
