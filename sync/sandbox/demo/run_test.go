package demo_test

import (
	"bytes"
	"context"
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
	err := demo.Run(context.Background(), demo.RunOptions{Medterm: bin, Dir: t.TempDir(), Out: &out})
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
