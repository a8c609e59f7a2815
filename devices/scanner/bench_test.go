package scanner

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
)

// BenchmarkFramer measures the framer's throughput (MB/s) on a stream of
// distinct 120-byte codes with AIM identifiers, arriving in reads of 1 to
// 64 bytes as a serial port delivers them, with de-duplication on.
// x_split is its time over the least a line splitter can do on the same
// reads in the same loop: find each terminator with bytes.IndexByte and
// make each line a string.
func BenchmarkFramer(b *testing.B) {
	var stream bytes.Buffer
	for i := range 1000 {
		fmt.Fprintf(&stream, "]Q1HC1:%0116d\r", i)
	}
	data := stream.Bytes()
	r := rand.New(rand.NewPCG(1, 1))
	var reads [][]byte
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(64))
		reads, rest = append(reads, rest[:n]), rest[n:]
	}
	cfg := DefaultFraming()
	clk := clock.NewFake(epoch)

	b.SetBytes(int64(len(data)))
	var framer, split time.Duration
	for b.Loop() {
		start := time.Now()
		f, _ := NewFramer(cfg, clk)
		codes := 0
		for _, p := range reads {
			codes += len(f.Feed(p))
		}
		framer += time.Since(start)
		if codes != 1000 {
			b.Fatalf("%d codes, want 1000", codes)
		}

		b.StopTimer()
		start = time.Now()
		if n := splitLines(reads); n != 1000 {
			b.Fatalf("baseline split %d lines", n)
		}
		split += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(framer)/float64(split), "x_split")
}

// splitLines is the baseline: CR-terminated lines across reads, nothing
// checked.
func splitLines(reads [][]byte) int {
	var line []byte
	var sink []string
	n := 0
	for _, p := range reads {
		for len(p) > 0 {
			i := bytes.IndexByte(p, '\r')
			if i < 0 {
				line = append(line, p...)
				break
			}
			line = append(line, p[:i]...)
			sink = append(sink[:0], string(line))
			n++
			line, p = line[:0], p[i+1:]
		}
	}
	_ = sink
	return n
}
