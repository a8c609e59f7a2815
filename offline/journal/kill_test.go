package journal_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// killEnv names the journal a helper process writes to until it is killed.
const killEnv = "MEDTERM_JOURNAL_KILL_HELPER"

// TestKillHelper is not a test: it is the writer that
// TestKilledWriterLosesNothingAcknowledged starts and kills. It does
// nothing unless that test started it.
func TestKillHelper(t *testing.T) {
	spec := os.Getenv(killEnv)
	if spec == "" {
		return
	}
	parts := strings.Split(spec, "|") // journal, key file, round
	if len(parts) != 3 {
		t.Fatalf("%s=%q: want journal|key file|round", killEnv, spec)
	}
	path, keyFile, round := parts[0], parts[1], parts[2]
	j, err := journal.Open(path, journal.Options{
		KeyFile: keyFile, Institution: journaltest.Institution, Slot: journaltest.Slot,
		IDPrefix: journaltest.IDPrefix, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		key := fmt.Sprintf("kill-%s-%d", round, i)
		s, _, err := j.Accept(ctx, journaltest.Settlement(key), settleSteps)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		// Printed only once Accept has returned: an acknowledgement. One
		// write of less than PIPE_BUF, so a kill never leaves half a line.
		fmt.Println("ACK", s.ID, key)
	}
}

// A daemon killed at any instant loses nothing it acknowledged, and leaves
// a file the next start opens and verifies. (SIGKILL leaves the page
// cache alone, so this proves atomicity under a crash of the process, not
// of the machine; bbolt's fsync covers the latter.)
func TestKilledWriterLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	keyFile := filepath.Join(dir, "keys", "journal.key")
	acked := map[string]string{} // id -> idempotency key
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", killEnv, path, keyFile, round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 1 + rand.IntN(40)
		lines := bufio.NewScanner(out)
		n := 0
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) == 3 && f[0] == "ACK" {
				acked[f[1]] = f[2]
				if n++; n == killAfter {
					cmd.Process.Kill()
				}
			} else if len(f) > 0 && f[0] == "ERR" {
				cmd.Process.Kill()
				t.Fatalf("round %d: helper failed: %s", round, lines.Text())
			}
		}
		cmd.Wait()
		if n < killAfter {
			t.Fatalf("round %d: helper stopped after %d acknowledgements, before it was killed", round, n)
		}

		j, err := journal.Open(path, journal.Options{
			KeyFile: keyFile, ReadOnly: true, Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		for id, key := range acked {
			s, err := j.Get(ctx, id)
			if err != nil || s.IdempotencyKey != key || s.Personal != journaltest.Personal {
				t.Errorf("round %d: acknowledged %s (%s) after kill: %v, %v", round, id, key, s, err)
			}
		}
		if err := j.Verify(ctx); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		j.Close()
	}
}
