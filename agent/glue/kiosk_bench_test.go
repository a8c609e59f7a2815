package glue_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/scanner"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

var benchNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

// phoneWorld is an issuer and one phone of the given algorithm.
func phoneWorld(b testing.TB, alg credential.Algorithm) (*credential.TrustList, *credential.Phone) {
	ik, err := credential.NewKeyFromSeed(alg, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	pk, err := credential.NewKeyFromSeed(alg, bytes.Repeat([]byte{2}, 32))
	if err != nil {
		b.Fatal(err)
	}
	is := &credential.Issuer{KeyID: 7, Key: ik}
	cert, err := is.Issue(credential.Certificate{
		Serial: 42, Region: "441900",
		NotBefore: credential.DayOf(benchNow.AddDate(0, -1, 0)), NotAfter: credential.DayOf(benchNow.AddDate(1, 0, 0)),
	}, pk.Public())
	if err != nil {
		b.Fatal(err)
	}
	phone, err := credential.NewPhone(cert, pk, 0)
	if err != nil {
		b.Fatal(err)
	}
	tl := &credential.TrustList{Version: 1, Keys: []credential.IssuerKey{is.TrustEntry(benchNow.AddDate(-1, 0, 0), benchNow.AddDate(1, 0, 0))}}
	return tl, phone
}

// BenchmarkLineToVerifiedIdentity is what a kiosk does per code, across
// the packages that this one joins (hence here, where they meet): the
// scanner's bytes framed into a line, the code verified offline (two
// signatures) and its counter advanced durably in the journal (one
// fsync'd bbolt commit). Baselines measured in the same run: the verify
// alone with counters in memory ("x-verify"), and the journal's counter
// commit alone ("x-counter-commit").
func BenchmarkLineToVerifiedIdentity(b *testing.B) {
	for _, alg := range []credential.Algorithm{credential.Ed25519, credential.SM2SM3} {
		b.Run(alg.String(), func(b *testing.B) {
			tl, phone := phoneWorld(b, alg)
			j := journaltest.MustOpen(b)
			fc := clock.NewFake(benchNow)
			v, err := credential.NewVerifier(tl, glue.Counters{Store: j}, fc, credential.DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			memV, err := credential.NewVerifier(tl, memCounters{}, fc, credential.DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			fr, err := scanner.NewFramer(scanner.DefaultFraming(), fc)
			if err != nil {
				b.Fatal(err)
			}
			const pre = 64 // codes made ahead, outside the timed loop
			var n uint32
			lines := func() [][]byte {
				out := make([][]byte, pre)
				for i := range out {
					n++
					text, err := phone.Code(benchNow, n)
					if err != nil {
						b.Fatal(err)
					}
					out[i] = []byte("]Q1" + text + "\r")
				}
				return out
			}
			ctx := context.Background()
			base := func() (verify, commit time.Duration) {
				ls := lines()
				start := time.Now()
				for _, l := range ls[:32] {
					if _, err := memV.Verify(ctx, string(bytes.TrimSuffix(bytes.TrimPrefix(l, []byte("]Q1")), []byte("\r")))); err != nil {
						b.Fatal(err)
					}
				}
				verify = time.Since(start) / 32
				start = time.Now()
				for i := range 32 {
					if err := j.Advance(ctx, "baseline", uint64(int(n)*100+i)); err != nil {
						b.Fatal(err)
					}
				}
				return verify, time.Since(start) / 32
			}
			v0, c0 := base()
			b.ReportAllocs()
			b.ResetTimer()
			var work [][]byte
			for i := 0; i < b.N; i++ {
				if len(work) == 0 {
					b.StopTimer()
					work = lines()
					b.StartTimer()
				}
				codes := fr.Feed(work[0])
				work = work[1:]
				if len(codes) != 1 {
					b.Fatalf("framer gave %d codes", len(codes))
				}
				if _, err := v.Verify(ctx, codes[0]); err != nil {
					b.Fatal(err)
				}
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.StopTimer()
			v1, c1 := base()
			b.ReportMetric(float64(per)/float64((v0+v1)/2), "x-verify")
			b.ReportMetric(float64(per)/float64((c0+c1)/2), "x-counter-commit")
		})
	}
}

type memCounters struct{}

func (memCounters) Advance(context.Context, string, uint64) error { return nil }

var _ credential.CounterStore = memCounters{}
