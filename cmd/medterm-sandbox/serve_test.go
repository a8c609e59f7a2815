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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/transport"
	"github.com/seed-a859fada/medterm/sync/unionpay"
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

// serving runs the command in-process and returns the insurance
// platform's bound address it printed and a function that stops it and
// returns its exit code.
func serving(t *testing.T, args ...string) (addr string, stop func() int) {
	t.Helper()
	addr, _, stop = servingBoth(t, args...)
	return addr, stop
}

// servingBoth is serving with the payment channel's address too, the
// second line serve prints.
func servingBoth(t *testing.T, args ...string) (addr, payAddr string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve"}, args...), pw, &stderr)
		pw.Close()
	}()
	rd := bufio.NewReader(pr)
	var lines [2]string
	for i := range lines {
		line, err := rd.ReadString('\n')
		if err != nil {
			cancel()
			t.Fatalf("address %d not printed (%v); exit %d; stderr:\n%s", i+1, err, <-code, stderr.String())
		}
		lines[i] = strings.TrimSpace(line)
	}
	go io.Copy(io.Discard, rd)
	stopped := false
	stop = func() int {
		cancel()
		select {
		case c := <-code:
			stopped = true
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop after its context ended")
			return -1
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return lines[0], lines[1], stop
}

// lockedBuffer is stderr written by serve while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeAnswersSignedRequestsAndStops(t *testing.T) {
	dir := t.TempDir()
	addrFile, payAddrFile := filepath.Join(dir, "addr"), filepath.Join(dir, "pay-addr")
	addr, payAddr, stop := servingBoth(t, "--state", filepath.Join(dir, "s.db"), "--secrets", writeSecrets(t, dir),
		"--addr-file", addrFile, "--pay-addr-file", payAddrFile, "--log-level", "warn")
	for _, a := range []struct{ printed, file string }{{addr, addrFile}, {payAddr, payAddrFile}} {
		if !strings.HasPrefix(a.printed, "127.0.0.1:") {
			t.Fatalf("printed address %q", a.printed)
		}
		written, err := os.ReadFile(a.file)
		if err != nil || string(written) != a.printed+"\n" {
			t.Fatalf("addr file %s: %q (%v), want %q", a.file, written, err, a.printed)
		}
	}
	if addr == payAddr {
		t.Fatalf("one address for both counterparties: %s", addr)
	}

	if status, resp := signIn(t, addr, string(secret)); status != http.StatusOK || resp.Infcode != 0 {
		t.Fatalf("9001 with the institution's token: HTTP %d %+v", status, resp)
	}
	// The payment channel answers the agent's adapter, configured as the
	// agent would be: the keys serve made, the sandbox's merchant.
	agreement := lookUpAgreement(t, payAddr, filepath.Join(dir, "payment-keys"), "bank-card")
	if len(agreement.Sources) == 0 || agreement.Sources[0].Kind != agent.SourceBankCard {
		t.Fatalf("bank-card's agreement: %+v", agreement)
	}
	res, err := http.Get("http://" + payAddr + "/admin/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("payment channel health: HTTP %d", res.StatusCode)
	}

	if code := stop(); code != exitOK {
		t.Fatalf("exit %d after a clean stop", code)
	}
	for _, f := range []string{addrFile, payAddrFile} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("addr file %s left behind: %v", f, err)
		}
	}
}

// signIn posts a tif-signed 9001 with token to the platform at addr; the
// gateway refuses a bad signature before the platform, in HTTP 401.
func signIn(t *testing.T, addr, token string) (int, protocol.Response) {
	t.Helper()
	msgid, _ := protocol.MsgidClock{}.Next(inst, 0, time.Now())
	input, _ := json.Marshal(protocol.SignInInput{SignIn: protocol.SignInData{OpterNo: "D1"}})
	body, _ := json.Marshal(protocol.Request{Infno: "9001", Msgid: msgid, DevNo: "DESK01", FixmedinsCode: inst, Input: input})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+sandbox.CallPath, bytes.NewReader(body))
	tif, err := transport.NewTif(inst, token, nil)
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
	defer res.Body.Close()
	var resp protocol.Response
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, resp
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		t.Fatalf("9001: %v", err)
	}
	return res.StatusCode, resp
}

// lookUpAgreement asks the payment channel at addr for a persona's
// agreement through the agent's adapter, with the keys in keysDir.
func lookUpAgreement(t *testing.T, addr, keysDir, persona string) agent.Agreement {
	t.Helper()
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := data.ByKey(persona)
	if !ok {
		t.Fatalf("no persona %s", persona)
	}
	c, err := unionpay.New(unionpay.Config{URL: "http://" + addr + paychannel.BasePath, MerchantID: paychannel.MerchantID,
		TokenRequestor: paychannel.TokenRequestor, KeyFile: filepath.Join(keysDir, "payment.key"),
		ChannelKeyFile: filepath.Join(keysDir, "channel.pub"), Enabled: true, Attempts: 1}, unionpay.Options{})
	if err != nil {
		t.Fatalf("the adapter on the keys serve made: %v", err)
	}
	a, err := c.Agreement(t.Context(), agent.AgreementQuery{IDNo: p.Certno, Name: p.Name, Region: p.InsuplcAdmdvs})
	if err != nil {
		t.Fatalf("%s's agreement: %v", persona, err)
	}
	return a
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
	badKeys := t.TempDir()
	if err := os.WriteFile(filepath.Join(badKeys, "channel.key"), []byte("not a key\n"), 0o600); err != nil {
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
		{"a non-loopback payment channel", []string{"--state", state(), "--secrets", secrets, "--pay-addr", "0.0.0.0:0", "--allow-remote"}, exitConfig, "--pay-addr"},
		{"one state file for both", []string{"--state", filepath.Join(dir, "same.db"), "--pay-state", filepath.Join(dir, "same.db"), "--secrets", secrets}, exitUsage, "--pay-state"},
		{"payment keys that are not keys", []string{"--state", state(), "--secrets", secrets, "--pay-keys", badKeys}, exitConfig, "--pay-keys"},
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

func TestServeRefusesAPaymentStateFileInUse(t *testing.T) {
	dir := t.TempDir()
	_, _, stop := servingBoth(t, "--state", filepath.Join(dir, "s.db"), "--secrets", writeSecrets(t, dir), "--log-level", "warn")
	defer stop()
	var stderr bytes.Buffer
	// Another platform state, the same payment channel's.
	code := run(t.Context(), []string{"serve", "--state", filepath.Join(t.TempDir(), "s.db"), "--pay-state", filepath.Join(dir, "paychannel.db"),
		"--secrets", writeSecrets(t, t.TempDir())}, io.Discard, &stderr)
	if code != exitState || !strings.Contains(stderr.String(), "locked by another process") {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitState, stderr.String())
	}
}

// TestServeKeepsThePaymentKeysAndResetsBothLedgers: a restart reads the
// keys it made (an agent configured once keeps working), and --reset
// wipes the payment channel's books with the platform's.
func TestServeKeepsThePaymentKeysAndResetsBothLedgers(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--state", filepath.Join(dir, "s.db"), "--secrets", writeSecrets(t, dir), "--log-level", "warn"}
	_, payAddr, stop := servingBoth(t, args...)
	keyFile := filepath.Join(dir, "payment-keys", "payment.key")
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("serve made no merchant key beside the state: %v", err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("merchant key mode %v (%v); want 0600, as the agent requires", fi.Mode().Perm(), err)
	}
	lookUpAgreement(t, payAddr, filepath.Join(dir, "payment-keys"), "bank-card")
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	_, payAddr, stop = servingBoth(t, append(args, "--reset")...)
	defer stop()
	after, err := os.ReadFile(keyFile)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the merchant key changed across a restart (%v)", err)
	}
	lookUpAgreement(t, payAddr, filepath.Join(dir, "payment-keys"), "bank-card")
}

func TestSecretsGivesTheSandboxAndTheAgentOneToken(t *testing.T) {
	dir := t.TempDir()
	secrets, tokenFile := filepath.Join(dir, "secrets.json"), filepath.Join(dir, "insurance.token")
	secretsCmd := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{"secrets"}, args...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, out := secretsCmd("--secrets", secrets, "--token-file", tokenFile); code != exitOK || !strings.Contains(out, "fresh") {
		t.Fatalf("exit %d: %s", code, out)
	}
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := string(raw)
	if strings.Count(token, "\n") != 1 || !strings.HasSuffix(token, "\n") {
		t.Fatalf("token file %q: want one line", token)
	}
	token = strings.TrimSpace(token)
	if fi, _ := os.Stat(tokenFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v; want 0600", fi.Mode().Perm())
	}
	all, err := protocol.LoadSecrets(secrets)
	if err != nil || string(all[inst]) != token {
		t.Fatalf("secrets %v (%v); want the token file's %q", all, err, token)
	}
	// The platform takes requests signed with the token file's token.
	addr, stop := serving(t, "--state", filepath.Join(dir, "s.db"), "--secrets", secrets, "--log-level", "warn")
	if status, resp := signIn(t, addr, token); status != http.StatusOK || resp.Infcode != 0 {
		t.Fatalf("9001 signed with the token file's token: HTTP %d %+v", status, resp)
	}
	if status, _ := signIn(t, addr, token+"x"); status != http.StatusUnauthorized {
		t.Fatalf("9001 signed with another token: HTTP %d; want 401", status)
	}
	stop()

	// From an existing secrets file: the same token; never over a file.
	if code, out := secretsCmd("--secrets", secrets, "--token-file", tokenFile); code == exitOK {
		t.Fatalf("an existing token file was overwritten: %s", out)
	}
	again := filepath.Join(dir, "again.token")
	if code, out := secretsCmd("--secrets", secrets, "--token-file", again); code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	if b, _ := os.ReadFile(again); strings.TrimSpace(string(b)) != token {
		t.Fatalf("token from the existing secrets: %q, want %q", b, token)
	}
	// A secret that no line of text can hold is refused, not mangled.
	binary := filepath.Join(dir, "binary.json")
	if err := protocol.WriteSecrets(binary, map[string][]byte{inst: append(bytes.Repeat([]byte{'a'}, 16), '\n', 0)}); err != nil {
		t.Fatal(err)
	}
	if code, out := secretsCmd("--secrets", binary, "--token-file", filepath.Join(dir, "b.token")); code != exitConfig || !strings.Contains(out, "not printable") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, out := secretsCmd("--secrets", secrets, "--token-file", filepath.Join(dir, "c.token"), "--institution", "H4419"); code != exitUsage {
		t.Fatalf("exit %d: %s", code, out)
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
