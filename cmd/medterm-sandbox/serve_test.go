package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/transport"
)

const inst = "H44190000001"

var secret = []byte("0123456789abcdef0123")

// writeSecrets writes a secrets file for the first institution.
func writeSecrets(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "secrets.json")
	if err := protocol.WriteSecrets(path, map[string][]byte{inst: secret}); err != nil {
		t.Fatal(err)
	}
	return path
}

// serving runs the command in-process and returns the bound address it
// printed, a cancel function and the channel of its exit code.
func serving(t *testing.T, args ...string) (addr string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve"}, args...), pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no address printed (%v); exit %d; stderr:\n%s", err, <-code, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	return strings.TrimSpace(line), func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop after its context ended")
			return -1
		}
	}
}

func TestServeAnswersSignedRequestsAndStops(t *testing.T) {
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	addr, stop := serving(t, "--state", filepath.Join(dir, "s.db"), "--secrets", writeSecrets(t, dir), "--addr-file", addrFile, "--log-level", "warn")
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("printed address %q", addr)
	}
	written, err := os.ReadFile(addrFile)
	if err != nil || string(written) != addr+"\n" {
		t.Fatalf("addr file %q (%v), want %q", written, err, addr)
	}

	msgid, _ := protocol.MsgidClock{}.Next(inst, 0, time.Now())
	input, _ := json.Marshal(protocol.SignInInput{SignIn: protocol.SignInData{OpterNo: "D1"}})
	body, _ := json.Marshal(protocol.Request{Infno: "9001", Msgid: msgid, DevNo: "DESK01", FixmedinsCode: inst, Input: input})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+sandbox.CallPath, bytes.NewReader(body))
	tif, err := transport.NewTif(inst, string(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tif.Authorize(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var resp protocol.Response
	err = json.NewDecoder(res.Body).Decode(&resp)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || resp.Infcode != 0 {
		t.Fatalf("9001: HTTP %d %+v %v", res.StatusCode, resp, err)
	}

	if code := stop(); code != exitOK {
		t.Fatalf("exit %d after a clean stop", code)
	}
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Fatalf("addr file left behind: %v", err)
	}
}

func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	secrets := writeSecrets(t, dir)
	open := filepath.Join(dir, "open.json")
	if err := os.WriteFile(open, []byte(`{"`+inst+`": "`+strings.Repeat("ab", 16)+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badPersonas := filepath.Join(dir, "personas.json")
	if err := os.WriteFile(badPersonas, []byte(`{"version": 1, "people": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	state := func() string { return filepath.Join(t.TempDir(), "s.db") }
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no state file", []string{"--secrets", secrets}, exitUsage, "--state"},
		{"an argument", []string{"--state", state(), "--secrets", secrets, "extra"}, exitUsage, "no arguments"},
		{"an unknown flag", []string{"--colour"}, exitUsage, "colour"},
		{"a bad log level", []string{"--state", state(), "--secrets", secrets, "--log-level", "loud"}, exitUsage, "log-level"},
		{"a non-loopback address", []string{"--state", state(), "--secrets", secrets, "--addr", "0.0.0.0:0"}, exitConfig, "loopback"},
		{"a secrets file readable by everyone", []string{"--state", state(), "--secrets", open}, exitConfig, "readable by everyone"},
		{"an invalid persona file", []string{"--state", state(), "--secrets", secrets, "--personas", badPersonas}, exitConfig, "personas.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"serve"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Fatalf("stderr %q does not mention %q", stderr.String(), tt.says)
			}
		})
	}
}

func TestServeRefusesAStateFileInUse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	p, err := sandbox.Open(path, sandbox.Options{Personas: data, Secrets: map[string][]byte{inst: secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"serve", "--state", path, "--secrets", writeSecrets(t, dir)}, io.Discard, &stderr); code != exitState {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitState, stderr.String())
	}
	if !strings.Contains(stderr.String(), "locked by another process") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}

// TestTheBinaryStopsCleanlyOnASignal builds the command and stops it with
// SIGTERM and with SIGINT, as a service manager and a terminal would.
func TestTheBinaryStopsCleanlyOnASignal(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "medterm-sandbox")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secrets := writeSecrets(t, dir)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "serve", "--state", filepath.Join(t.TempDir(), "s.db"), "--secrets", secrets)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			addr, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("no address: %v\n%s", err, stderr.String())
			}
			res, err := http.Get("http://" + strings.TrimSpace(addr) + "/admin/health")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after %s: %v\n%s", sig, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "stopped") {
				t.Fatalf("no clean stop logged:\n%s", stderr.String())
			}
		})
	}
}
