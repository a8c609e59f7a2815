package credential_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/credential/base45"
	"github.com/seed-a859fada/medterm/devices/credential/credtest"
)

var ctx = context.Background()

// fixture is a terminal at vectorTime whose trust list holds the vector
// issuer of one algorithm, valid 2026-01-01 to 2027-07-01, and the
// vector phone certified by it.
type fixture struct {
	t        *testing.T
	alg      credential.Algorithm
	clk      *clock.Fake
	counters *credtest.Counters
	world
	trust *credential.TrustList
	v     *credential.Verifier
}

var (
	keyFrom  = time.Date(2026, 1, 1, 0, 0, 0, 0, cst)
	keyUntil = time.Date(2027, 7, 1, 0, 0, 0, 0, cst)
)

func newFixture(t *testing.T, alg credential.Algorithm) *fixture {
	t.Helper()
	f := &fixture{t: t, alg: alg, clk: clock.NewFake(vectorTime), counters: &credtest.Counters{}, world: newWorld(t, alg)}
	f.trust = &credential.TrustList{Version: 1, Keys: []credential.IssuerKey{f.issuer.TrustEntry(keyFrom, keyUntil)}}
	v, err := credential.NewVerifier(f.trust, f.counters, f.clk, credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

// code is the vector phone's code made d after now, with counter n.
func (f *fixture) code(d time.Duration, n uint32) string {
	f.t.Helper()
	text, err := f.phone.Code(f.clk.Now().Add(d), n)
	if err != nil {
		f.t.Fatal(err)
	}
	return text
}

// setTrust publishes a new trust list version to the terminal.
func (f *fixture) setTrust(keys []credential.IssuerKey, revoked ...credential.Serial) {
	f.t.Helper()
	f.trust = &credential.TrustList{Version: f.trust.Version + 1, Keys: keys, Revoked: revoked}
	if err := f.v.SetTrustList(f.trust); err != nil {
		f.t.Fatal(err)
	}
}

// newIssuer is a second issuer of the fixture's algorithm.
func (f *fixture) newIssuer(id credential.KeyID, seed byte, alg credential.Algorithm) *credential.Issuer {
	f.t.Helper()
	k, err := credential.NewKeyFromSeed(alg, seq(seed, 32))
	if err != nil {
		f.t.Fatal(err)
	}
	return &credential.Issuer{KeyID: id, Key: k}
}

// phoneOf is a phone certified by is (the vector template, serial s).
func (f *fixture) phoneOf(is *credential.Issuer, s credential.Serial) *credential.Phone {
	f.t.Helper()
	tmpl := *f.phone.Certificate
	tmpl.Serial = s
	k, err := credential.NewKeyFromSeed(is.Key.Algorithm(), seq(byte(s), 32))
	if err != nil {
		f.t.Fatal(err)
	}
	cert, err := is.Issue(tmpl, k.Public())
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := credential.NewPhone(cert, k, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func mustCode(t *testing.T, p *credential.Phone, at time.Time, n uint32) string {
	t.Helper()
	text, err := p.Code(at, n)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// tamper changes a code's bytes and encodes them again, as a forger would.
func tamper(t *testing.T, text string, change func(b []byte) []byte) string {
	t.Helper()
	b, err := base45.DecodeString(strings.TrimPrefix(text, credential.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	return credential.Prefix + base45.EncodeToString(change(b))
}

func flip(at int) func([]byte) []byte {
	return func(b []byte) []byte { b[at] ^= 0x01; return b }
}

func TestVerifyAcceptsAFreshCode(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			f := newFixture(t, alg)
			id, err := f.v.Verify(ctx, f.code(-5*time.Second, 7))
			if err != nil {
				t.Fatal(err)
			}
			want := credential.Identity{
				Serial: 0x0123456789abcdef, Person: person, Region: "440100", Algorithm: alg,
				KeyID: vectorKeyID(alg), CodeTime: vectorTime.Add(-5 * time.Second), Counter: 7,
				NotAfter: f.phone.Certificate.NotAfter,
			}
			if !id.CodeTime.Equal(want.CodeTime) {
				t.Errorf("code time %v, want %v", id.CodeTime, want.CodeTime)
			}
			id.CodeTime = want.CodeTime
			if id != want {
				t.Errorf("identity %+v, want %+v", id, want)
			}
			if h, _ := f.counters.Highest("0123456789abcdef"); h != 7 {
				t.Errorf("highest counter recorded %d, want 7", h)
			}
		})
	}
}

// Every rejection, for both algorithms. Each case prepares the terminal,
// returns the text shown to it, and names the error expected; a rejected
// code must never reach the counter store.
func TestVerifyRejects(t *testing.T) {
	const L, S = credential.DefaultLifetime, credential.DefaultSkew
	cases := []struct {
		name string
		text func(f *fixture) string
		want error
	}{
		{"code older than lifetime plus skew", func(f *fixture) string {
			return f.code(-(L + S + time.Second), 1)
		}, credential.ErrCodeExpired},
		{"code ahead of the terminal beyond the skew", func(f *fixture) string {
			return f.code(S+time.Second, 1)
		}, credential.ErrCodeFuture},
		{"counter below the highest seen", func(f *fixture) string {
			mustVerify(f, f.code(0, 5))
			return f.code(time.Second, 4)
		}, credential.ErrReplayed},
		{"same code twice", func(f *fixture) string {
			text := f.code(0, 5)
			mustVerify(f, text)
			return text
		}, credential.ErrReplayed},
		{"same counter in a new code", func(f *fixture) string {
			mustVerify(f, f.code(0, 5))
			return f.code(time.Second, 5)
		}, credential.ErrReplayed},
		{"code signature altered", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), flip(credential.CodeSize(f.alg)-1))
		}, credential.ErrCodeSignature},
		{"counter raised after signing", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), flip(credential.CertificateSize(f.alg)+7))
		}, credential.ErrCodeSignature},
		{"code signed by another phone's key", func(f *fixture) string {
			thief, err := credential.NewKeyFromSeed(f.alg, seq(0x77, 32))
			if err != nil {
				f.t.Fatal(err)
			}
			p := &credential.Phone{Certificate: f.phone.Certificate, Key: thief}
			return mustCode(f.t, p, f.clk.Now(), 1)
		}, credential.ErrCodeSignature},
		{"certificate signature altered", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), flip(credential.CertificateSize(f.alg)-1))
		}, credential.ErrCertificateSignature},
		{"region changed in the certificate", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), func(b []byte) []byte { b[28] = 0x11; return b })
		}, credential.ErrCertificateSignature},
		{"certificate by an issuer not in the trust list", func(f *fixture) string {
			return mustCode(f.t, f.phoneOf(f.newIssuer(99, 0x50, f.alg), 0x42), f.clk.Now(), 1)
		}, credential.ErrUnknownIssuer},
		{"certificate by a stranger claiming the issuer's key id", func(f *fixture) string {
			return mustCode(f.t, f.phoneOf(f.newIssuer(vectorKeyID(f.alg), 0x50, f.alg), 0x42), f.clk.Now(), 1)
		}, credential.ErrCertificateSignature},
		{"issuer key withdrawn from the trust list", func(f *fixture) string {
			f.setTrust(nil)
			return f.code(0, 1)
		}, credential.ErrUnknownIssuer},
		{"certificate not yet valid", func(f *fixture) string {
			f.clk.Set(f.phone.Certificate.NotBefore.Start().Add(-time.Second))
			f.setTrust([]credential.IssuerKey{f.issuer.TrustEntry(keyFrom.AddDate(-1, 0, 0), keyUntil)})
			return f.code(0, 1)
		}, credential.ErrCertificateNotYetValid},
		{"certificate expired", func(f *fixture) string {
			f.clk.Set((f.phone.Certificate.NotAfter + 1).Start())
			return f.code(0, 1)
		}, credential.ErrCertificateExpired},
		{"issuer key expired", func(f *fixture) string {
			f.setTrust([]credential.IssuerKey{f.issuer.TrustEntry(keyFrom, vectorTime)})
			return f.code(0, 1)
		}, credential.ErrIssuerKeyValidity},
		{"issuer key not yet valid", func(f *fixture) string {
			f.setTrust([]credential.IssuerKey{f.issuer.TrustEntry(vectorTime.Add(time.Second), keyUntil)})
			return f.code(0, 1)
		}, credential.ErrIssuerKeyValidity},
		{"serial revoked", func(f *fixture) string {
			f.setTrust(f.trust.Keys, 0x0123456789abcdef)
			return f.code(0, 1)
		}, credential.ErrRevoked},
		{"truncated by one group", func(f *fixture) string {
			text := f.code(0, 1)
			return text[:len(text)-3]
		}, credential.ErrMalformed},
		{"truncated by one character", func(f *fixture) string {
			text := f.code(0, 1)
			return text[:len(text)-1]
		}, credential.ErrMalformed},
		{"only the prefix", func(*fixture) string { return credential.Prefix }, credential.ErrMalformed},
		{"a character outside Base45", func(f *fixture) string {
			return alterChar(f.code(0, 1), 40, 'a')
		}, credential.ErrMalformed},
		{"a Base45 character changed in the person token", func(f *fixture) string {
			return alterChar(f.code(0, 1), len(credential.Prefix)+21, '0')
		}, credential.ErrCertificateSignature},
		{"a Base45 character changed in the phone signature", func(f *fixture) string {
			text := f.code(0, 1)
			return alterChar(text, len(text)-6, '0')
		}, credential.ErrCodeSignature},
		{"bytes appended", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), func(b []byte) []byte { return append(b, 0, 0) })
		}, credential.ErrMalformed},
		{"prefix of a later format version", func(f *fixture) string {
			return "YB2:" + strings.TrimPrefix(f.code(0, 1), credential.Prefix)
		}, credential.ErrUnsupportedVersion},
		{"certificate version 2", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), func(b []byte) []byte { b[0] = 2; return b })
		}, credential.ErrUnsupportedVersion},
		{"unknown algorithm", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), func(b []byte) []byte { b[1] = 9; return b })
		}, credential.ErrMalformed},
		{"region not decimal", func(f *fixture) string {
			return tamper(f.t, f.code(0, 1), func(b []byte) []byte { b[30] = 0x0a; return b })
		}, credential.ErrMalformed},
		{"certificate algorithm differs from its key's", func(f *fixture) string {
			other := credential.Ed25519
			if f.alg == credential.Ed25519 {
				other = credential.SM2SM3
			}
			return mustCode(f.t, f.phoneOf(f.newIssuer(vectorKeyID(f.alg), 0x00, other), 0x42), f.clk.Now(), 1)
		}, credential.ErrAlgorithmMismatch},
	}
	for _, alg := range algs {
		for _, tc := range cases {
			t.Run(alg.String()+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, alg)
				text := tc.text(f)
				calls := f.counters.Calls()
				_, err := f.v.Verify(ctx, text)
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify error = %v, want %v", err, tc.want)
				}
				r, ok := credential.Explain(err)
				if !ok || r.ZH == "" || r.EN == "" {
					t.Errorf("rejection %v has no patient message", err)
				}
				if tc.want == credential.ErrReplayed {
					// The store's own refusal is carried, with the
					// highest counter it has seen.
					if !strings.Contains(err.Error(), "highest") {
						t.Errorf("replay %v does not carry the counter store's refusal", err)
					}
					return
				}
				if f.counters.Calls() != calls {
					t.Errorf("a code rejected with %v reached the counter store", err)
				}
			})
		}
	}
}

func mustVerify(f *fixture, text string) credential.Identity {
	f.t.Helper()
	id, err := f.v.Verify(ctx, text)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// alterChar replaces the character at i with c.
func alterChar(text string, i int, c byte) string {
	b := []byte(text)
	if b[i] == c {
		c = '1'
	}
	b[i] = c
	return string(b)
}

func TestVerifyBoundsAreInclusive(t *testing.T) {
	const L, S = credential.DefaultLifetime, credential.DefaultSkew
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			f := newFixture(t, alg)
			mustVerify(f, f.code(-(L+S), 1))
			mustVerify(f, f.code(S, 2))
			// The last second of the certificate's last day.
			f.clk.Set((f.phone.Certificate.NotAfter + 1).Start().Add(-time.Second))
			mustVerify(f, f.code(0, 3))
			// The first second of its first day.
			f.setTrust([]credential.IssuerKey{f.issuer.TrustEntry(keyFrom.AddDate(-1, 0, 0), keyUntil)})
			f.clk.Set(f.phone.Certificate.NotBefore.Start())
			mustVerify(f, f.code(0, 4))
		})
	}
}

func TestVerifyHonoursConfiguredLifetimeAndSkew(t *testing.T) {
	f := newFixture(t, credential.Ed25519)
	v, err := credential.NewVerifier(f.trust, f.counters, f.clk, credential.Options{Lifetime: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, f.code(-11*time.Second, 1)); !errors.Is(err, credential.ErrCodeExpired) {
		t.Errorf("11 s old with a 10 s lifetime and no skew: %v", err)
	}
	if _, err := v.Verify(ctx, f.code(time.Second, 2)); !errors.Is(err, credential.ErrCodeFuture) {
		t.Errorf("1 s ahead with no skew: %v", err)
	}
	if _, err := v.Verify(ctx, f.code(-10*time.Second, 3)); err != nil {
		t.Errorf("10 s old with a 10 s lifetime: %v", err)
	}
	for _, opt := range []credential.Options{{}, {Lifetime: time.Minute, Skew: -time.Second}} {
		if _, err := credential.NewVerifier(f.trust, f.counters, f.clk, opt); err == nil {
			t.Errorf("NewVerifier accepted %+v", opt)
		}
	}
}

// Key rotation: a new key is published beside the old one; the old one
// verifies its certificates until its own end, and not after.
func TestVerifyAcrossIssuerKeyRotation(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			f := newFixture(t, alg)
			oldUntil := vectorTime.Add(24 * time.Hour)
			next := f.newIssuer(vectorKeyID(alg)+10, 0x60, alg)
			f.setTrust([]credential.IssuerKey{
				f.issuer.TrustEntry(keyFrom, oldUntil),
				next.TrustEntry(vectorTime.Add(-time.Hour), keyUntil),
			})
			newPhone := f.phoneOf(next, 0x77)

			mustVerify(f, f.code(0, 1)) // old key, still valid
			if _, err := f.v.Verify(ctx, mustCode(t, newPhone, f.clk.Now(), 1)); err != nil {
				t.Fatalf("certificate of the new key: %v", err)
			}

			f.clk.Set(oldUntil)
			if _, err := f.v.Verify(ctx, f.code(0, 2)); !errors.Is(err, credential.ErrIssuerKeyValidity) {
				t.Fatalf("certificate of the expired old key: %v, want %v", err, credential.ErrIssuerKeyValidity)
			}
			if _, err := f.v.Verify(ctx, mustCode(t, newPhone, f.clk.Now(), 2)); err != nil {
				t.Fatalf("certificate of the new key after the old one expired: %v", err)
			}
		})
	}
}

// A forged code with a huge counter must not lock out the patient's next
// genuine code: the counter moves only after every signature verifies.
func TestForgedCodeCannotBurnTheCounter(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			f := newFixture(t, alg)
			forged := tamper(t, f.code(0, 1), func(b []byte) []byte {
				at := credential.CertificateSize(alg) + 4
				copy(b[at:], []byte{0xff, 0xff, 0xff, 0xff})
				return b
			})
			if _, err := f.v.Verify(ctx, forged); !errors.Is(err, credential.ErrCodeSignature) {
				t.Fatalf("forged code: %v", err)
			}
			if _, seen := f.counters.Highest("0123456789abcdef"); seen {
				t.Fatal("the forged code's counter was recorded")
			}
			mustVerify(f, f.code(0, 1))
		})
	}
}

func TestOpaqueCodesAreNotRejections(t *testing.T) {
	f := newFixture(t, credential.Ed25519)
	genuine := f.code(0, 1)
	for _, text := range []string{
		"",
		"6225880123456789",
		"yb1:" + strings.TrimPrefix(genuine, credential.Prefix),
		"XB1:" + strings.TrimPrefix(genuine, credential.Prefix),
		"YB1;" + strings.TrimPrefix(genuine, credential.Prefix),
		"YBX:123",
		" " + genuine,
	} {
		if credential.IsOurs(text) {
			t.Errorf("IsOurs(%.12q) = true", text)
		}
		_, err := f.v.Verify(ctx, text)
		if !errors.Is(err, credential.ErrOpaque) {
			t.Errorf("Verify(%.12q) = %v, want ErrOpaque", text, err)
		}
		if _, ok := credential.Explain(err); ok {
			t.Errorf("opaque %.12q explained as a rejection", text)
		}
		if _, err := credential.Parse(text); !errors.Is(err, credential.ErrOpaque) {
			t.Errorf("Parse(%.12q) = %v, want ErrOpaque", text, err)
		}
	}
	if f.counters.Calls() != 0 {
		t.Error("an opaque code reached the counter store")
	}
}

func TestCounterStoreFailureIsNotARejection(t *testing.T) {
	f := newFixture(t, credential.SM2SM3)
	diskFull := errors.New("disk full")
	f.counters.Fail = func(string, uint64) error { return diskFull }
	_, err := f.v.Verify(ctx, f.code(0, 1))
	if !errors.Is(err, diskFull) {
		t.Fatalf("Verify = %v, want the store's error", err)
	}
	if _, ok := credential.Explain(err); ok {
		t.Errorf("a terminal fault %v explained as the patient's", err)
	}
}

func TestRejectionsHaveDistinctReasonsAndBothLanguages(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range []*credential.Rejection{
		credential.ErrMalformed, credential.ErrUnsupportedVersion, credential.ErrUnknownIssuer,
		credential.ErrAlgorithmMismatch, credential.ErrCertificateSignature, credential.ErrCertificateNotYetValid,
		credential.ErrCertificateExpired, credential.ErrIssuerKeyValidity, credential.ErrCodeSignature,
		credential.ErrCodeFuture, credential.ErrCodeExpired, credential.ErrRevoked, credential.ErrReplayed,
	} {
		if r.Reason == "" || r.Detail == "" || r.ZH == "" || r.EN == "" || seen[r.Reason] {
			t.Errorf("rejection %+v: empty field or reason used twice", r)
		}
		seen[r.Reason] = true
	}
	if r, _ := credential.Explain(credential.ErrCodeExpired); !strings.Contains(r.ZH, "刷新") || !strings.Contains(r.EN, "refresh") {
		t.Errorf("an expired code tells the patient %q / %q, not to refresh it", r.ZH, r.EN)
	}
}

// Two terminals' worth of scans of one screenshot at once: exactly one is
// accepted, whatever the interleaving.
func TestConcurrentScansOfOneCodeAcceptOnce(t *testing.T) {
	f := newFixture(t, credential.Ed25519)
	text := f.code(0, 1)
	const scans = 8
	results := make(chan error, scans)
	for range scans {
		go func() {
			_, err := f.v.Verify(ctx, text)
			results <- err
		}()
	}
	accepted := 0
	for range scans {
		switch err := <-results; {
		case err == nil:
			accepted++
		case !errors.Is(err, credential.ErrReplayed):
			t.Errorf("scan failed with %v, want success or replay", err)
		}
	}
	if accepted != 1 {
		t.Errorf("%d scans accepted, want 1", accepted)
	}
}
