//go:build linux

package sscard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/pcsctest"
	"github.com/seed-a859fada/medterm/devices/psam"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// These tests read virtual cards through the real stack: ebfe/scard →
// libpcsclite → pcscd → vpcd → TCP → package vcard.

type stack struct {
	*pcsctest.Stack
	module *psam.Module
}

// startStack starts pcscd and inserts a virtual PSAM holding master into
// the second reader.
func startStack(t testing.TB, master []byte) stack {
	t.Helper()
	s := pcsctest.Start(t)
	vp, err := vcard.NewPSAM(map[byte][]byte{testKeyID: master})
	if err != nil {
		t.Fatal(err)
	}
	pcsctest.Insert(t, s.PSAM, vp)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.PSAM.Name, true); err != nil {
		t.Fatal(err)
	}
	m := psam.New(s.Reader, s.PSAM.Name)
	t.Cleanup(func() { m.Close() })
	return stack{Stack: s, module: m}
}

// insert puts the card in and waits for pcscd to see it.
func (s stack) insert(ctx context.Context, t testing.TB, vc *vcard.Card) *pcsctest.Inserted {
	t.Helper()
	in := pcsctest.Insert(t, s.Card, vc)
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, true); err != nil {
		t.Fatal(err)
	}
	return in
}

// remove takes the card out and waits for pcscd to see it.
func (s stack) remove(ctx context.Context, t testing.TB, in *pcsctest.Inserted) {
	t.Helper()
	in.Remove()
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, false); err != nil {
		t.Fatal(err)
	}
}

func (s stack) read(ctx context.Context, t testing.TB) (*Identity, int, error) {
	t.Helper()
	c, err := s.Reader.Connect(ctx, s.Card.Name)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	counted := apdu.Count(c)
	r := &Reader{Module: s.module, Clock: fakeClock()}
	id, err := r.Read(ctx, counted)
	return id, counted.N(), err
}

func stackContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestReadsThroughPCSC(t *testing.T) {
	s := startStack(t, testMaster)
	ctx := stackContext(t)
	cases := []struct {
		version, name, account string
		apdus                  int
	}{
		// As read in process, and the SELECT of a financial application
		// that these cards lack.
		{"1.00", "张三", "", 16},
		{"2.00", "刘䶮", "", 17},
		{"3.00", "王𠮷", "", 19},
		// With one: its SELECT and FCI, and READ RECORD with Le 00 that
		// the T=0 card answers 6Cxx before the record.
		{"2.00", "张三", testAccount, 20},
		{"3.00", "王𠮷", testAccount, 22},
	}
	for _, c := range cases {
		name := c.version
		if c.account != "" {
			name += " with a financial account"
		}
		t.Run(name, func(t *testing.T) {
			p := profile(c.version)
			p.Name, p.AccountNo = c.name, c.account
			in := s.insert(ctx, t, newCard(t, p, vcard.Faults{}))
			defer s.remove(ctx, t, in)
			id, n, err := s.read(ctx, t)
			if err != nil {
				t.Fatal(err)
			}
			// The same card read in process is the reference.
			want, _, err := read(t, vcard.Direct(newCard(t, p, vcard.Faults{})), &Reader{Module: virtualPSAM(t, testMaster)})
			if err != nil {
				t.Fatal(err)
			}
			if *id != *want {
				t.Fatalf("through PC/SC\n%+v\nin process\n%+v", *id, *want)
			}
			if id.Name != c.name || id.AccountNo != c.account || id.AccountErr != nil || n != c.apdus {
				t.Fatalf("name %q, account %q (%v) in %d APDUs, want %q, %q in %d", id.Name, id.AccountNo, id.AccountErr, n, c.name, c.account, c.apdus)
			}
		})
	}
}

// A malformed financial record through the real stack: the identity is
// read, the account is not, and the error says why.
func TestMalformedFinancialRecordThroughPCSC(t *testing.T) {
	s := startStack(t, testMaster)
	ctx := stackContext(t)
	p := profile("2.00")
	p.AccountNo = testAccount
	s.insert(ctx, t, newCard(t, p, vcard.Faults{AccountRecord: unhexT("70 0C 5A 0A 6217000000000000001F")}))
	id, _, err := s.read(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	if id.IDNumber != p.IDNumber || id.AccountNo != "" || !errors.Is(id.AccountErr, ErrAccountCheckDigit) {
		t.Fatalf("read %+v, account error %v; want the holder, no account and ErrAccountCheckDigit", id, id.AccountErr)
	}
}

func TestWrongPSAMKeyIsRefusedByTheCard(t *testing.T) {
	s := startStack(t, otherMaster)
	ctx := stackContext(t)
	vc := newCard(t, profile("3.00"), vcard.Faults{})
	s.insert(ctx, t, vc)
	_, _, err := s.read(ctx, t)
	if !errors.Is(err, apdu.ErrVerifyFailed) || !strings.Contains(err.Error(), "63C2") {
		t.Fatalf("err %v, want the card's 63C2", err)
	}
	if vc.Tries() != 2 {
		t.Fatalf("%d tries left on the card, want 2", vc.Tries())
	}
}

func TestCardPulledMidReadThenTheNextCardReads(t *testing.T) {
	s := startStack(t, testMaster)
	ctx := stackContext(t)
	s.insert(ctx, t, newCard(t, profile("3.00"), vcard.Faults{PullAfter: 12})) // during EF06
	_, _, err := s.read(ctx, t)
	if !errors.Is(err, pcsc.ErrCardRemoved) || !strings.Contains(err.Error(), "read EF06") {
		t.Fatalf("err %v, want ErrCardRemoved while reading EF06", err)
	}
	if _, err := pcsctest.WaitCard(ctx, s.Reader, s.Card.Name, false); err != nil {
		t.Fatal(err)
	}
	s.insert(ctx, t, newCard(t, profile("3.00"), vcard.Faults{}))
	id, _, err := s.read(ctx, t)
	if err != nil {
		t.Fatalf("the next card: %v", err)
	}
	if id.IDNumber != profile("3.00").IDNumber {
		t.Fatalf("read %+v", id)
	}
}

func TestTransportQuirksThroughPCSC(t *testing.T) {
	s := startStack(t, testMaster)
	ctx := stackContext(t)
	s.insert(ctx, t, newCard(t, profile("2.00"), vcard.Faults{Chain: 7, WrongLe: true}))
	id, _, err := s.read(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "张三" {
		t.Fatalf("read %+v", id)
	}
}

func TestReadsAgainAfterPCSCDRestarts(t *testing.T) {
	s := startStack(t, testMaster)
	ctx := stackContext(t)
	s.insert(ctx, t, newCard(t, profile("3.00"), vcard.Faults{}))
	if _, _, err := s.read(ctx, t); err != nil {
		t.Fatal(err)
	}
	s.StopDaemon(t)
	if _, _, err := s.read(ctx, t); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Fatalf("with pcscd stopped: %v", err)
	}
	s.StartDaemon(t) // both virtual cards, still inserted, come back
	for _, reader := range []string{s.Card.Name, s.PSAM.Name} {
		if _, err := pcsctest.WaitCard(ctx, s.Reader, reader, true); err != nil {
			t.Fatal(err)
		}
	}
	// Same Reader, same PSAM module: its kept connection is stale and is
	// replaced without an error.
	if _, _, err := s.read(ctx, t); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

// counting is a PC/SC reader whose connections count their APDUs, to
// measure the PSAM's share of a 3.0 read.
type counting struct {
	r *pcsc.Reader
	n *int
}

type countedCard struct {
	pcsc.Card
	n *int
}

func (c counting) Connect(ctx context.Context, reader string) (countedCard, error) {
	card, err := c.r.Connect(ctx, reader)
	if err != nil {
		return countedCard{}, err
	}
	return countedCard{card, c.n}, nil
}

func (c countedCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	*c.n++
	return c.Card.Transmit(ctx, cmd)
}

// BenchmarkInsertToIdentity measures a virtual card from insertion to a
// validated identity through the real stack (ns/op, which includes pcscd's
// presence poll), and relates the read itself to a bare APDU round trip
// measured on the same connection in the same run: read/rtt is read time
// divided by (APDUs × round trip), 1 when the read costs nothing but its
// APDUs.
func BenchmarkInsertToIdentity(b *testing.B) {
	for _, version := range []string{"2.00", "3.00"} {
		b.Run(version, func(b *testing.B) {
			s := startStack(b, testMaster)
			psamAPDUs := 0
			s.module = psam.New(counting{s.Reader, &psamAPDUs}, s.PSAM.Name)
			b.Cleanup(func() { s.module.Close() })
			ctx := stackContext(b)
			bare := apdu.Command{INS: 0xA4, P1: 0x02, Data: []byte{0xEF, 0x05}} // answered 9000, no GET RESPONSE
			var read, rtt time.Duration
			var cardAPDUs, rttN int
			for b.Loop() {
				in := s.insert(ctx, b, newCard(b, profile(version), vcard.Faults{}))
				c, err := s.Reader.Connect(ctx, s.Card.Name)
				if err != nil {
					b.Fatal(err)
				}
				counted := apdu.Count(c)
				start := time.Now()
				if _, err := (&Reader{Module: s.module, Clock: fakeClock()}).Read(ctx, counted); err != nil {
					b.Fatal(err)
				}
				read += time.Since(start)
				cardAPDUs += counted.N()

				b.StopTimer()
				start = time.Now()
				for range 20 {
					if _, err := apdu.Exchange(ctx, c, bare); err != nil {
						b.Fatal(err)
					}
				}
				rtt += time.Since(start)
				rttN += 20
				c.Close()
				s.remove(ctx, b, in)
				b.StartTimer()
			}
			n := float64(b.N)
			perAPDU := float64(rtt) / float64(rttN)
			total := float64(cardAPDUs+psamAPDUs) / n
			b.ReportMetric(float64(cardAPDUs)/n, "apdus/read")
			b.ReportMetric(float64(psamAPDUs)/n, "psam-apdus/read")
			b.ReportMetric(perAPDU/1e3, "rtt-µs")
			b.ReportMetric(float64(read)/n/1e3, "read-µs")
			b.ReportMetric(float64(read)/n/(total*perAPDU), "read/rtt")
		})
	}
}
