package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent/config"
)

// With [log] file set (the Windows service's logs\medterm.log), every
// record is also JSON in that file, and it is rotated at max_size_mb with
// max_files kept.
func TestTheLogFileTakesEveryRecordAsJSONAndRotates(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "logs", "medterm.log")
	var stderr bytes.Buffer
	log, closeLog := daemonLogger(config.Log{Level: "info", Format: "text", File: file, MaxSizeMB: 1, MaxFiles: 2}, &stderr, nil)
	big := strings.Repeat("x", 4<<10)
	for i := range 600 { // about 2.4 MB: two rotations
		log.Info("forwarded", "n", i, "pad", big)
	}
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "msg=forwarded") {
		t.Error("stderr lost the records")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last["msg"] != "forwarded" || last["n"] != float64(599) {
		t.Fatalf("the file's last record: %v %v", last, err)
	}
	if len(data) > 1<<20 {
		t.Errorf("the current file holds %d bytes; rotation at 1 MB", len(data))
	}
	old, _ := filepath.Glob(filepath.Join(dir, "logs", "medterm-*.log"))
	if len(old) != 2 {
		t.Errorf("%d rotated files kept (%v); want max_files = 2", len(old), old)
	}
}

// The Windows event log takes warnings, errors and the service's own
// events as one line of text each; the rest stays in the file.
func TestTheEventLogTakesWarningsErrorsAndServiceEvents(t *testing.T) {
	sink := &fakeEventLog{}
	log, closeLog := daemonLogger(config.Log{Level: "info", Format: "text", MaxSizeMB: 1, MaxFiles: 1}, &bytes.Buffer{}, newEventHandler(sink, slog.LevelInfo))
	defer closeLog()
	log = log.With("terminal", "DESK01")
	log.Info("medterm started", "version", "0.1.0", serviceEvent, true)
	log.Info("settled", "id", "S1")
	log.Warn("platform unreachable", "err", "dial tcp: refused")
	log.Error("journal write failed", "err", "disk full")
	want := []string{
		`info 1 msg="medterm started" terminal=DESK01 version=0.1.0`,
		`warning 2 msg="platform unreachable" terminal=DESK01 err="dial tcp: refused"`,
		`error 3 msg="journal write failed" terminal=DESK01 err="disk full"`,
	}
	if strings.Join(sink.events, "\n") != strings.Join(want, "\n") {
		t.Errorf("event log:\n%s\nwant:\n%s", strings.Join(sink.events, "\n"), strings.Join(want, "\n"))
	}
}

type fakeEventLog struct{ events []string }

func (f *fakeEventLog) add(kind string, eid uint32, msg string) error {
	f.events = append(f.events, kind+" "+string(rune('0'+eid))+" "+msg)
	return nil
}
func (f *fakeEventLog) Info(eid uint32, msg string) error    { return f.add("info", eid, msg) }
func (f *fakeEventLog) Warning(eid uint32, msg string) error { return f.add("warning", eid, msg) }
func (f *fakeEventLog) Error(eid uint32, msg string) error   { return f.add("error", eid, msg) }

// The MSI's configuration is the documented one with Windows paths: it
// loads, and everything the daemon keeps lies under %ProgramData%\medterm
// (the secrets apart from the journal, the token beside the
// configuration, where SSCardDriver.dll reads it).
func TestTheWindowsConfigurationIsTheDocumentedOneWithItsPaths(t *testing.T) {
	out, err := exec.Command("sed", "-f", "../../packaging/windows/config.sed", "../../packaging/medterm.toml").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "medterm.toml")
	if err := os.WriteFile(path, out, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		cfg.Journal.Path: "data/journal.db", cfg.Journal.KeyFile: "data/journal.key", cfg.API.TokenFile: "api.token",
		cfg.Insurance.TokenFile: "secrets/insurance.token", cfg.Payment.KeyFile: "secrets/payment.key",
		cfg.Log.File: "logs/medterm.log", cfg.Scanner.Port: "COM3",
	} {
		if want != "COM3" {
			want = filepath.Join(dir, want)
		}
		if got != want {
			t.Errorf("%s; want %s", got, want)
		}
	}
	if strings.Contains(string(out), `"/etc/`) || strings.Contains(string(out), `"/var/`) {
		t.Error("a Linux path is left in the Windows configuration")
	}
}
