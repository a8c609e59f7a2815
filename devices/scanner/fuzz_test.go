package scanner

import (
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
)

// FuzzFramer feeds arbitrary bytes, cut into arbitrary reads, to every
// framing: whatever the wire carries, the framer never panics, never sends
// a code holding a terminator or a non-printable byte, never sends more
// than the maximum length, accounts for every line, and frames the same
// bytes the same way however they are split.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("HQR0001\r"), uint8(0), uint8(0), uint16(16), uint8(3))
	f.Add([]byte("]Q1HQR0001\r\n]Q1HQR0001\r\n"), uint8(2), uint8(1), uint16(64), uint8(5))
	f.Add([]byte("A\tB\tC"), uint8(3), uint8(2), uint16(1), uint8(1))
	f.Add([]byte("\r\r\n\n\x00\xff]Q\r"), uint8(1), uint8(2), uint16(2), uint8(2))
	f.Add([]byte("0123456789012345678901234567890123\rX\r"), uint8(0), uint8(0), uint16(8), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, term, aim uint8, maxLen uint16, cut uint8) {
		terms := []Terminator{CR, LF, CRLF, TAB}
		aims := []AIMMode{AIMNone, AIMStrip, AIMRequire}
		cfg := Framing{
			Terminator: terms[int(term)%len(terms)],
			AIM:        aims[int(aim)%len(aims)],
			MaxLen:     1 + int(maxLen)%MaxMaxLen,
			Dedupe:     time.Second,
		}
		whole := mustFramer(t, cfg, clock.NewFake(epoch))
		split := mustFramer(t, cfg, clock.NewFake(epoch))

		want := whole.Feed(data)
		var got []string
		step := 1 + int(cut)
		for i := 0; i < len(data); i += step {
			got = append(got, split.Feed(data[i:min(i+step, len(data))])...)
		}
		whole.End()
		split.End()

		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("split reads framed %q, one read %q", got, want)
		}
		if whole.Stats() != split.Stats() {
			t.Fatalf("stats differ: split %+v, whole %+v", split.Stats(), whole.Stats())
		}
		for _, code := range want {
			if code == "" || len(code) > cfg.MaxLen {
				t.Fatalf("code of length %d sent (max %d)", len(code), cfg.MaxLen)
			}
			for i := 0; i < len(code); i++ {
				if !printable(code[i]) {
					t.Fatalf("code %q holds byte %#x", code, code[i])
				}
			}
			if strings.ContainsAny(code, "\r\n\t") {
				t.Fatalf("code %q holds a terminator", code)
			}
		}
		st := whole.Stats()
		if st.Lines != st.Codes+st.Duplicates+st.Noise {
			t.Fatalf("lines not accounted for: %+v", st)
		}
		if st.Codes != uint64(len(want)) {
			t.Fatalf("Codes = %d, sent %d", st.Codes, len(want))
		}
		if st.HalfLines > 1 {
			t.Fatalf("HalfLines = %d after one End", st.HalfLines)
		}
	})
}
