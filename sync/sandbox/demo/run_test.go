package demo_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/sync/sandbox/demo"
)

// TestRunPlaysTheDayWithRealProcesses is what `make run` does: the medterm
// binary is built and started as a daemon, the window scenarios go through
// its CLI, and every receipt is printed.
func TestRunPlaysTheDayWithRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the medterm binary")
	}
	bin := filepath.Join(t.TempDir(), "medterm")
	build := exec.Command("go", "build", "-o", bin, "github.com/seed-a859fada/medterm/cmd/medterm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build medterm: %v\n%s", err, out)
	}
	var out bytes.Buffer
	dir := t.TempDir()
	err := demo.Run(context.Background(), demo.RunOptions{Medterm: bin, Dir: dir, Out: &out})
	// The day's output and the agent's log are kept for make test, which
	// looks through every log for personal data in clear.
	if a := os.Getenv("MEDTERM_ARTEFACTS"); a != "" {
		if agentLog, err := os.ReadFile(filepath.Join(dir, "medterm.log")); err == nil && os.MkdirAll(filepath.Join(a, "logs"), 0o755) == nil {
			_ = os.WriteFile(filepath.Join(a, "logs", "demo-medterm.log"), agentLog, 0o644)
			_ = os.WriteFile(filepath.Join(a, "logs", "demo-output.log"), out.Bytes(), 0o644)
		}
	}
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"RECEIPT", "REFUNDED", "every receipt balances", "agent stopped"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
