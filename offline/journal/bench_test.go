package journal_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// The journal's cost is reported as a multiple of a bare bbolt commit of
// ~1 KiB measured on the same disk in the same run ("x-bare-commit"):
// absolute times on a shared machine drift with its load, the ratio much
// less. Run with: go test -run '^$' -bench . ./offline/journal/

func quiet(o *journal.Options) { o.Logger = slog.New(slog.DiscardHandler) }

// reportRatio runs body under b.Loop and reports its cost per operation
// against bare commits timed just before and just after it.
func reportRatio(b *testing.B, dir string, body func(i int)) {
	c := journaltest.OpenBare(b, dir)
	c.PerCommit(b, 5) // warm the file and the page cache
	before := c.PerCommit(b, 20)
	i := 0
	for b.Loop() {
		body(i)
		i++
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	after := c.PerCommit(b, 20)
	b.ReportMetric(float64(perOp)/float64((before+after)/2), "x-bare-commit")
}

func BenchmarkBareCommit(b *testing.B) {
	c := journaltest.OpenBare(b, b.TempDir())
	for b.Loop() {
		c.Commit(b)
	}
	b.ReportMetric(1, "x-bare-commit")
}

func BenchmarkAccept(b *testing.B) {
	j := journaltest.MustOpen(b, quiet)
	reportRatio(b, filepath.Dir(j.Path), func(i int) {
		if _, _, err := j.Accept(ctx, journaltest.Settlement(fmt.Sprint("his-", i)), settleSteps); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	j := journaltest.MustOpen(b, quiet)
	s, _, err := j.Accept(ctx, journaltest.Settlement("his-1"), settleSteps)
	if err != nil {
		b.Fatal(err)
	}
	// Each update moves the state, so the state index changes too, and
	// records an event, as every workflow step does.
	states := []agent.State{agent.StateSettling, agent.StateInDoubt}
	reportRatio(b, filepath.Dir(j.Path), func(i int) {
		_, err := j.Update(ctx, s.ID, func(s *agent.Settlement, _ agent.MsgidAllocator) error {
			s.State = states[i%2]
			s.Events = append(s.Events[:min(len(s.Events), 8)], agent.Event{At: journaltest.Start, State: s.State, Note: "resent"})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}
