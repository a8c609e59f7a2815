package scanner

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
)

var epoch = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func framing(mut func(*Framing)) Framing {
	f := DefaultFraming()
	f.Dedupe = 0
	if mut != nil {
		mut(&f)
	}
	return f
}

func mustFramer(t testing.TB, f Framing, clk clock.Clock) *Framer {
	t.Helper()
	fr, err := NewFramer(f, clk)
	if err != nil {
		t.Fatalf("NewFramer(%+v): %v", f, err)
	}
	return fr
}

// feedAll feeds the chunks in order and collects every code.
func feedAll(f *Framer, chunks ...string) []string {
	var got []string
	for _, c := range chunks {
		got = append(got, f.Feed([]byte(c))...)
	}
	return got
}

func TestFramerSplitsLinesOnTheConfiguredTerminator(t *testing.T) {
	cases := []struct {
		name   string
		term   Terminator
		chunks []string
		want   []string
		stats  Stats
	}{
		{"CR", CR, []string{"ABC\rDEF\r"}, []string{"ABC", "DEF"}, Stats{Lines: 2, Codes: 2}},
		{"LF", LF, []string{"ABC\nDEF\n"}, []string{"ABC", "DEF"}, Stats{Lines: 2, Codes: 2}},
		{"CRLF", CRLF, []string{"ABC\r\nDEF\r\n"}, []string{"ABC", "DEF"}, Stats{Lines: 2, Codes: 2}},
		{"TAB", TAB, []string{"ABC\tDEF\t"}, []string{"ABC", "DEF"}, Stats{Lines: 2, Codes: 2}},
		{"code split across reads", CR, []string{"HQ", "R0000", "1\r"}, []string{"HQR00001"}, Stats{Lines: 1, Codes: 1}},
		{"CRLF split between CR and LF", CRLF, []string{"ABC\r", "\nDEF\r", "\n"}, []string{"ABC", "DEF"}, Stats{Lines: 2, Codes: 2}},
		{"several codes in one read", LF, []string{"A1\nB2\nC3\nD"}, []string{"A1", "B2", "C3"}, Stats{Lines: 3, Codes: 3}},
		{"empty lines are nothing", CR, []string{"\r\r", "ABC\r\r"}, []string{"ABC"}, Stats{Lines: 1, Codes: 1}},
		{"empty CRLF lines are nothing", CRLF, []string{"\r\n\r\nABC\r\n"}, []string{"ABC"}, Stats{Lines: 1, Codes: 1}},
		{"space is part of a code", CR, []string{"A B %*+-./:\r"}, []string{"A B %*+-./:"}, Stats{Lines: 1, Codes: 1}},
		{"LF inside a CR line is noise", CR, []string{"ABC\r\nDEF\r"}, []string{"ABC"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"CR inside an LF line is noise", LF, []string{"AB\rC\nDEF\n"}, []string{"DEF"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"bare CR in CRLF framing is noise", CRLF, []string{"AB\rC\r\nDEF\r\n"}, []string{"DEF"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"doubled CR in CRLF framing is noise", CRLF, []string{"AB\r\r\nDEF\r\n"}, []string{"DEF"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"bare LF in CRLF framing is noise", CRLF, []string{"AB\nC\r\nDEF\r\n"}, []string{"DEF"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"control byte makes the line noise", CR, []string{"AB\x00C\rDEF\r"}, []string{"DEF"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"high byte (wrong baud) makes the line noise", CR, []string{"\xf8\x80\xfe\rDEF\r"}, []string{"DEF"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"DEL makes the line noise", TAB, []string{"AB\x7f\tDEF\t"}, []string{"DEF"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"noise split across reads", CR, []string{"AB", "\x01", "CD\rOK\r"}, []string{"OK"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := mustFramer(t, framing(func(f *Framing) { f.Terminator = tc.term }), nil)
			got := feedAll(f, tc.chunks...)
			if !slices.Equal(got, tc.want) {
				t.Errorf("codes = %q, want %q", got, tc.want)
			}
			if st := f.Stats(); st != tc.stats {
				t.Errorf("stats = %+v, want %+v", st, tc.stats)
			}
		})
	}
}

func TestFramerTreatsAnOverlongLineAsNoiseUpToItsTerminator(t *testing.T) {
	f := mustFramer(t, framing(func(f *Framing) { f.MaxLen = 8 }), nil)
	got := feedAll(f,
		"12345678\r",  // exactly the maximum: a code
		"123456789",   // one over: noise from here...
		"ABCDEFGHIJK", // ...through whatever follows...
		"\rAFTER\r",   // ...up to the terminator
	)
	want := []string{"12345678", "AFTER"}
	if !slices.Equal(got, want) {
		t.Fatalf("codes = %q, want %q", got, want)
	}
	if st := f.Stats(); st != (Stats{Lines: 3, Codes: 2, Noise: 1}) {
		t.Fatalf("stats = %+v", st)
	}
}

func TestFramerDiscardsAHalfLineWhenThePortCloses(t *testing.T) {
	for _, term := range []Terminator{CR, LF, CRLF, TAB} {
		t.Run(string(term), func(t *testing.T) {
			f := mustFramer(t, framing(func(f *Framing) { f.Terminator = term }), nil)
			if got := f.Feed([]byte("HALF-A-CO")); len(got) != 0 {
				t.Fatalf("unterminated line emitted: %q", got)
			}
			f.End()
			end := map[Terminator]string{CR: "\r", LF: "\n", CRLF: "\r\n", TAB: "\t"}[term]
			got := f.Feed([]byte("WHOLE" + end))
			if !slices.Equal(got, []string{"WHOLE"}) {
				t.Fatalf("after End: codes = %q, want [WHOLE] (no leftover of the half line)", got)
			}
			if st := f.Stats(); st != (Stats{Lines: 1, Codes: 1, HalfLines: 1}) {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

func TestFramerEndWithNothingPendingCountsNothing(t *testing.T) {
	f := mustFramer(t, framing(nil), nil)
	feedAll(f, "ABC\r")
	f.End()
	f.End()
	if st := f.Stats(); st.HalfLines != 0 {
		t.Fatalf("HalfLines = %d after clean lines, want 0", st.HalfLines)
	}
}

func TestFramerAIMIdentifier(t *testing.T) {
	cases := []struct {
		mode  AIMMode
		line  string
		want  []string
		noise uint64
	}{
		{AIMStrip, "]Q1HQR0001", []string{"HQR0001"}, 0},
		{AIMStrip, "]Q3HQR0001", []string{"HQR0001"}, 0},
		{AIMStrip, "]d2010123", []string{"010123"}, 0},
		{AIMStrip, "HQR0001", []string{"HQR0001"}, 0},
		{AIMStrip, "]Q", []string{"]Q"}, 0},        // too short to be an identifier
		{AIMStrip, "]1Q2", []string{"]1Q2"}, 0},    // not a symbology letter
		{AIMStrip, "]Q1", nil, 1},                  // an identifier and no code
		{AIMStrip, "]Q1]Q1X", []string{"]Q1X"}, 0}, // only one identifier is the scanner's
		{AIMRequire, "]Q1HQR0001", []string{"HQR0001"}, 0},
		{AIMRequire, "HQR0001", nil, 1},
		{AIMRequire, "]Q1", nil, 1},
		{AIMNone, "]Q1HQR0001", []string{"]Q1HQR0001"}, 0},
		{AIMNone, "HQR0001", []string{"HQR0001"}, 0},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode)+"/"+tc.line, func(t *testing.T) {
			f := mustFramer(t, framing(func(f *Framing) { f.AIM = tc.mode }), nil)
			got := f.Feed([]byte(tc.line + "\r"))
			if !slices.Equal(got, tc.want) {
				t.Errorf("codes = %q, want %q", got, tc.want)
			}
			if st := f.Stats(); st.Noise != tc.noise || st.Lines != 1 {
				t.Errorf("stats = %+v, want Lines 1, Noise %d", st, tc.noise)
			}
		})
	}
}

func TestFramerSendsARereadCodeOnceWithinTheWindow(t *testing.T) {
	clk := clock.NewFake(epoch)
	f := mustFramer(t, framing(func(f *Framing) { f.Dedupe = time.Second }), clk)
	steps := []struct {
		advance time.Duration
		line    string
		want    []string
	}{
		{0, "CODE-A", []string{"CODE-A"}},
		{300 * time.Millisecond, "CODE-A", nil},                // re-read while held
		{300 * time.Millisecond, "CODE-B", []string{"CODE-B"}}, // another code is not a duplicate
		{300 * time.Millisecond, "CODE-A", nil},                // held still: the window slides
		{999 * time.Millisecond, "CODE-A", nil},                // just inside the window
		{time.Second, "CODE-A", []string{"CODE-A"}},            // a full window later: sent again
		{time.Second, "CODE-B", []string{"CODE-B"}},            // B's window has long passed
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if got := f.Feed([]byte(s.line + "\r")); !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s after +%s): codes = %q, want %q", i, s.line, s.advance, got, s.want)
		}
	}
	if st := f.Stats(); st != (Stats{Lines: 7, Codes: 4, Duplicates: 3}) {
		t.Fatalf("stats = %+v", st)
	}
}

func TestFramerSuppressesDuplicatesInOneRead(t *testing.T) {
	f := mustFramer(t, framing(func(f *Framing) { f.Dedupe = time.Second }), clock.NewFake(epoch))
	got := f.Feed([]byte("X1\rX1\rX2\rX1\r"))
	if !slices.Equal(got, []string{"X1", "X2"}) {
		t.Fatalf("codes = %q", got)
	}
}

func TestFramerWithoutWindowSendsEveryRead(t *testing.T) {
	f := mustFramer(t, framing(func(f *Framing) { f.Dedupe = 0 }), clock.NewFake(epoch))
	if got := f.Feed([]byte("X1\rX1\r")); !slices.Equal(got, []string{"X1", "X1"}) {
		t.Fatalf("codes = %q", got)
	}
}

func TestFramerRemembersABoundedNumberOfCodes(t *testing.T) {
	clk := clock.NewFake(epoch)
	f := mustFramer(t, framing(func(f *Framing) { f.Dedupe = time.Minute }), clk)
	var b strings.Builder
	for i := range 10 * recentCodes {
		b.WriteString("CODE")
		b.WriteByte(byte('A' + i%26))
		b.WriteByte(byte('A' + i/26))
		b.WriteByte('\r')
	}
	if got := f.Feed([]byte(b.String())); len(got) != 10*recentCodes {
		t.Fatalf("%d codes, want %d distinct", len(got), 10*recentCodes)
	}
	if len(f.recent) > recentCodes {
		t.Fatalf("remembers %d codes, bound is %d", len(f.recent), recentCodes)
	}
}

func TestFramingValidateNamesTheField(t *testing.T) {
	cases := []struct {
		field string
		mut   func(*Framing)
	}{
		{"terminator", func(f *Framing) { f.Terminator = "cr" }},
		{"terminator", func(f *Framing) { f.Terminator = "" }},
		{"aim", func(f *Framing) { f.AIM = "yes" }},
		{"max_len", func(f *Framing) { f.MaxLen = 0 }},
		{"max_len", func(f *Framing) { f.MaxLen = MaxMaxLen + 1 }},
		{"dedupe", func(f *Framing) { f.Dedupe = -time.Second }},
	}
	for _, tc := range cases {
		f := DefaultFraming()
		tc.mut(&f)
		_, err := NewFramer(f, nil)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: err = %v, want a ConfigError for %q", f, err, tc.field)
		}
	}
	if err := DefaultFraming().Validate(); err != nil {
		t.Fatalf("default framing: %v", err)
	}
}
