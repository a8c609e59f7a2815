package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/sync/heldport"
)

// TestMain lets a test run this binary as medterm itself (MEDTERM_RUN_MAIN),
// for what must happen in a process of its own: the PC/SC library reads
// where pcscd listens once per process.
func TestMain(m *testing.M) {
	if os.Getenv("MEDTERM_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// doctorSetup is a terminal's configuration for the doctor's tests.
type doctorSetup struct {
	platform string // the gateway's URL
	journal  string // the journal's path ("" for one in the directory)
	cards    bool
}

func writeDoctorConfig(t *testing.T, s doctorSetup) string {
	t.Helper()
	dir := t.TempDir()
	if s.journal == "" {
		s.journal = filepath.Join(dir, "journal.db")
	}
	if err := os.WriteFile(filepath.Join(dir, "api.token"), []byte(strings.Repeat("t", 32)+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`[insurance]
url = %q
auth = "none"
recer_sys_code = "MBS_LOCAL"

[payment]
enabled = false

[institution]
code = "H44190000001"
name = "doctor test hospital"
region = "441900"

[terminal]
id = "T9"
slot = 9

[journal]
path = %q
key_file = %q

[api]
addr = %q
token_file = "api.token"

[cards]
enabled = %v
`, s.platform, s.journal, filepath.Join(filepath.Dir(s.journal), "journal.key"), freeAddr(t), s.cards)
	path := filepath.Join(dir, "medterm.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// gateway is a platform that answers anything, its clock off by skew.
func gateway(t *testing.T, skew time.Duration) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	t.Cleanup(s.Close)
	return s.URL + "/fsi/api/rsfComIfsService/callService"
}

// doctorFindings runs medterm doctor --json in this process.
func doctorFindings(t *testing.T, args ...string) (map[string]finding, int, string) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"doctor", "--json"}, args...))
	code := exitCode(root.Execute(), &out)
	return parseFindings(t, out.Bytes()), code, out.String()
}

func parseFindings(t *testing.T, out []byte) map[string]finding {
	t.Helper()
	var doc struct {
		Checks []finding `json:"checks"`
	}
	if i := bytes.LastIndexByte(out, '}'); i >= 0 {
		out = out[:i+1] // the error line after the JSON
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	m := map[string]finding{}
	for _, f := range doc.Checks {
		m[f.Check] = f
	}
	return m
}

func wantFailure(t *testing.T, found map[string]finding, code int, out, check, fix string) {
	t.Helper()
	f, ok := found[check]
	if code != exitDoctor || !ok || f.Level != levelFail || !strings.Contains(f.Fix, fix) || f.ZH == "" || f.EN == "" {
		t.Fatalf("check %s: %+v, exit %d; want a failure whose fix says %q, exit %d\n%s", check, f, code, fix, exitDoctor, out)
	}
}

func TestDoctorFindsThePlatformDown(t *testing.T) {
	p, err := heldport.Reserve() // refuses every connection
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := writeDoctorConfig(t, doctorSetup{platform: "http://" + p.Addr() + "/fsi/api/rsfComIfsService/callService"})
	found, code, out := doctorFindings(t, "--config", cfg)
	wantFailure(t, found, code, out, "insurance", "检查网络")
	if found["daemon"].Level != levelWarn {
		t.Errorf("no daemon: %+v; want a warning", found["daemon"])
	}
}

func TestDoctorFindsTheClockOff(t *testing.T) {
	cfg := writeDoctorConfig(t, doctorSetup{platform: gateway(t, 10*time.Minute)})
	found, code, out := doctorFindings(t, "--config", cfg)
	wantFailure(t, found, code, out, "clock", "timedatectl set-ntp true")
	if found["insurance"].Level != levelOK {
		t.Errorf("the platform answered: %+v", found["insurance"])
	}

	cfg = writeDoctorConfig(t, doctorSetup{platform: gateway(t, 0)})
	if found, code, out := doctorFindings(t, "--config", cfg); code != exitOK || found["clock"].Level != levelOK {
		t.Fatalf("the clock right: exit %d\n%s", code, out)
	}
}

func TestDoctorFindsTheDiskFull(t *testing.T) {
	fs := mountTmpfs(t, "1m")
	fill(t, fs, 0)
	cfg := writeDoctorConfig(t, doctorSetup{platform: gateway(t, 0), journal: filepath.Join(fs, "journal.db")})
	found, code, out := doctorFindings(t, "--config", cfg)
	wantFailure(t, found, code, out, "disk", "free some space")
	if _, err := os.Stat(filepath.Join(fs, "journal.key")); err == nil {
		t.Error("the doctor created a journal key")
	}
}

func TestDoctorFindsAWrongTokenAndPassesWithTheRightOne(t *testing.T) {
	r := newDiskRig(t, filepath.Join(t.TempDir(), "journal.db"))
	r.mustStart()
	wrong := filepath.Join(t.TempDir(), "old.token")
	if err := os.WriteFile(wrong, []byte(strings.Repeat("x", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	found, code, out := doctorFindings(t, "--config", r.cfg, "--token-file", wrong)
	wantFailure(t, found, code, out, "token", "[api] token_file")

	// A healthy terminal, once the daemon has signed in with the platform
	// (at start, or at its first bill).
	waitPlatformAnswered(t, r)
	found, code, out = doctorFindings(t, "--config", r.cfg)
	if code != exitOK {
		t.Fatalf("a healthy terminal: exit %d\n%s", code, out)
	}
	for _, c := range []string{"config", "disk", "journal", "key", "daemon", "auth", "insurance", "clock", "payment"} {
		if f, ok := found[c]; !ok || f.Level != levelOK {
			t.Errorf("check %s: %+v; want ok", c, f)
		}
	}
}

func TestDoctorFindsPCSCDStopped(t *testing.T) {
	cfg := writeDoctorConfig(t, doctorSetup{platform: gateway(t, 0), cards: true})
	cmd := exec.Command(os.Args[0], "doctor", "--json", "--config", cfg)
	// The PC/SC library's socket: where no pcscd listens, as when it is
	// stopped.
	cmd.Env = append(os.Environ(), "MEDTERM_RUN_MAIN=1", "PCSCLITE_CSOCK_NAME="+filepath.Join(t.TempDir(), "pcscd.comm"))
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	wantFailure(t, parseFindings(t, out), code, string(out), "pcscd", "systemctl start pcscd")
}

// waitPlatformAnswered waits until the daemon has had an answer from the
// platform, settling a bill if its start-up exchange has not come yet.
func waitPlatformAnswered(t *testing.T, r *diskRig) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		var st api.Status
		if err := r.api.Status(context.Background(), &st); err == nil && st.Platform.Reachable {
			return
		}
		r.mustSettle(0)
	}
	t.Fatal("the daemon never had an answer from the platform")
}
