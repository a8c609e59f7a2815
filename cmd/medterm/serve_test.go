package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/cmd/medterm/killtest"
	"github.com/seed-a859fada/medterm/sync/sandbox"
)

// writeConfig writes a daemon configuration in dir pointing at a platform
// that need not run (nothing here settles).
func writeConfig(t *testing.T, dir string) (cfg, addr string) {
	t.Helper()
	addr = freeAddr(t)
	cfg, err := killtest.WriteConfig(dir, killtest.Setup{PlatformURL: "http://127.0.0.1:9" + sandbox.CallPath, Institution: "H44190000001",
		Token: killtest.NewToken(), APIAddr: addr, Terminal: "T1", Slot: 2})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, addr
}

// freeAddr is an address for a daemon's API that no other test's
// outgoing connection can take meanwhile (heldport.Static: below the
// ephemeral range).
func freeAddr(t *testing.T) string {
	t.Helper()
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	addr, err := killtest.FreeAddr(binary.LittleEndian.Uint64(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func runRoot(ctx context.Context, args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestSecondServeOnTheSameJournalFailsAtOnceNamingTheLock(t *testing.T) {
	dir := t.TempDir()
	cfg, addr := writeConfig(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := runRoot(ctx, "serve", "--config", cfg); first <- err }()
	waitHealthy(t, addr, filepath.Join(dir, "api.token"), first)

	start := time.Now()
	_, err := runRoot(context.Background(), "serve", "--config", cfg)
	if !errors.Is(err, agent.ErrJournalLocked) || !strings.Contains(err.Error(), "lock") || !strings.Contains(err.Error(), "journal.db") {
		t.Fatalf("second serve = %v; want a lock error naming the journal", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second serve took %s to fail; want at once", d)
	}
	if code := exitCode(err, &bytes.Buffer{}); code != exitJournal {
		t.Fatalf("exit code %d; want %d", code, exitJournal)
	}
	cancel()
	if err := <-first; err != nil {
		t.Fatalf("first serve after shutdown: %v", err)
	}
}

func TestJournalListReadsTheFileWhenTheDaemonIsDown(t *testing.T) {
	dir := t.TempDir()
	cfg, addr := writeConfig(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := runRoot(ctx, "serve", "--config", cfg); first <- err }()
	waitHealthy(t, addr, filepath.Join(dir, "api.token"), first)
	cancel()
	<-first
	out, err := runRoot(context.Background(), "journal", "list", "--config", cfg)
	if err != nil {
		t.Fatalf("journal list with the daemon down: %v\n%s", err, out)
	}
}

func waitHealthy(t *testing.T, addr, tokenFile string, exited <-chan error) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v", err)
		case <-deadline:
			t.Fatal("serve did not answer")
		case <-time.After(20 * time.Millisecond):
		}
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			continue
		}
		if _, err := api.NewClient(addr, string(tok)).Do(context.Background(), "GET", "/v1/health", nil, nil, nil); err == nil {
			return
		}
	}
}

// keepLog keeps a daemon's log after the test, under MEDTERM_ARTEFACTS
// (make test sets it), where make test looks through every log for
// personal data in clear.
func keepLog(t *testing.T, path string) {
	dir := os.Getenv("MEDTERM_ARTEFACTS")
	if dir == "" {
		return
	}
	t.Cleanup(func() {
		data, err := os.ReadFile(path)
		if err != nil {
			return // no daemon ran
		}
		logs := filepath.Join(dir, "logs")
		name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-" + filepath.Base(path)
		if err := os.MkdirAll(logs, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(logs, name), data, 0o644)
		}
	})
}

// Under systemd the log is JSON, one record per line, for the journal;
// on a terminal it is text.
func TestTheLogIsJSONInTheSystemdJournalAndTextOnATerminal(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("JOURNAL_STREAM", "8:12345")
	newLogger(config.Log{Level: "info", Format: "auto"}, &out).Info("medterm started", "terminal", "T1")
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil || rec["msg"] != "medterm started" || rec["terminal"] != "T1" {
		t.Fatalf("under systemd: %q (%v)", out.String(), err)
	}
	out.Reset()
	t.Setenv("JOURNAL_STREAM", "")
	newLogger(config.Log{Level: "info", Format: "auto"}, &out).Info("medterm started", "terminal", "T1")
	if !strings.HasPrefix(out.String(), "time=") || !strings.Contains(out.String(), "terminal=T1") {
		t.Fatalf("on a terminal: %q", out.String())
	}
}
