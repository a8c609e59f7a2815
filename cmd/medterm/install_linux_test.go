package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/cmd/medterm/killtest"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The Debian package on a Debian system of its own (debootstrap into a
// folder, entered with chroot), as hospital IT installs it: installed,
// configured for the sandbox, bills deferred through an outage, upgraded
// to the next version with those bills in the journal, and after the
// restart every one of them drained to both counterparties; doctor and
// version run as the service account; removal keeps the data, purge
// removes it. It needs root and debootstrap: make test-package runs it.
func TestTheDebianPackageInstallsUpgradesWithDeferredBillsAndPurges(t *testing.T) {
	if os.Getenv("MEDTERM_PACKAGE_TEST") == "" {
		t.Skip("make test-package runs this (as root, with debootstrap)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the package test installs into a chroot: run make test-package as root")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Fatal("debootstrap is missing: make setup installs it")
	}
	prev, next := buildDeb(t, "0.0.9"), buildDeb(t, "0.1.0")
	root := debianRoot(t)
	in := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("chroot", append([]string{root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("in the chroot: %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	asService := func(args ...string) (string, int) {
		cmd := exec.Command("chroot", append([]string{"--userspec=medterm:medterm", root, "/usr/bin/medterm"}, args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	install := func(deb string) string {
		t.Helper()
		name := filepath.Base(deb)
		copyFile(t, deb, filepath.Join(root, "tmp", name), 0o644)
		// --force-confold: the configuration hospital IT edited stays, as
		// an unattended upgrade must keep it.
		return in("dpkg", "--force-confold", "-i", "/tmp/"+name)
	}

	// Install the previous version and configure it for the sandbox.
	if out := install(prev); !strings.Contains(out, "medterm doctor") && !strings.Contains(out, "config") {
		t.Errorf("postinst did not run medterm doctor:\n%s", out)
	}
	if got := in("getent", "passwd", "medterm"); !strings.Contains(got, "/var/lib/medterm") {
		t.Errorf("the service account: %q", got)
	}
	dir := t.TempDir()
	pl, err := killtest.StartPlatform(dir, 11)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	addr, err := killtest.FreeAddr(uint64(time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(root, "etc", "medterm")
	writeServiceFile(t, root, filepath.Join(etc, "insurance.token"), []byte(pl.Token+"\n"))
	writeServiceFile(t, root, filepath.Join(etc, "payment.key"), readFile(t, pl.PayKeys.MerchantKeyFile))
	writeServiceFile(t, root, filepath.Join(etc, "channel.pub"), readFile(t, pl.PayKeys.ChannelPubFile))
	config := packagedConfig(pl.URL, pl.PayURL, addr)
	if err := os.WriteFile(filepath.Join(etc, "medterm.toml"), []byte(config), 0o640); err != nil {
		t.Fatal(err)
	}

	logPath := filepath.Join(dir, "medterm.log")
	keepLog(t, logPath)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	var daemon *killtest.Daemon
	t.Cleanup(func() {
		if daemon != nil {
			daemon.Kill() // by its pid: no daemon outlives the test
		}
	})
	start := func() *api.Client {
		t.Helper()
		// The service as systemd starts it: its own account, its state
		// directory, the packaged configuration.
		d, err := killtest.StartCmd(exec.Command("chroot", "--userspec=medterm:medterm", root,
			"/usr/bin/medterm", "serve", "--config", "/etc/medterm/medterm.toml"), logFile)
		if err != nil {
			t.Fatal(err)
		}
		daemon = d
		token, err := d.WaitHealthy(context.Background(), addr, filepath.Join(root, "var", "lib", "medterm", "api.token"), 30*time.Second)
		if err != nil {
			t.Fatalf("%v\ndaemon log (tail):\n%s", err, killtest.Tail(logPath, 4<<10))
		}
		return api.NewClient(addr, token)
	}
	stop := func() {
		t.Helper()
		if err := daemon.Stop(); err != nil {
			t.Fatalf("the daemon did not stop cleanly: %v\n%s", err, killtest.Tail(logPath, 4<<10))
		}
		daemon = nil
	}

	c := start()
	status := func() api.Status {
		t.Helper()
		var st api.Status
		if _, err := c.Do(context.Background(), "GET", "/v1/status", nil, nil, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitFor(t, "the daemon's first exchange with the platform", func() bool { return !status().Platform.LastOK.IsZero() })
	if st := status(); st.Version != "0.0.9" {
		t.Errorf("the installed daemon says version %q; want 0.0.9", st.Version)
	}

	// The platform goes away: card bills are deferred.
	pl.Sandbox.SetOutage(true)
	var ids []string
	for i, persona := range []string{"acct-first", "deductible-met", "family-signer"} {
		v, err := c.Settle(context.Background(), fmt.Sprintf("pkg-%d", i), packageBill(t, pl, persona, i))
		if err != nil || v.State != agent.StateDeferred {
			t.Fatalf("bill %d during the outage: %v %s %+v; want deferred", i, err, v.State, v.Error)
		}
		ids = append(ids, v.ID)
	}
	stop()
	journal := filepath.Join(root, "var", "lib", "medterm", "journal.db")
	keyBefore := readFile(t, filepath.Join(root, "var", "lib", "medterm", "journal.key"))

	// The upgrade, with the backlog in the journal and the platform still
	// away; then the platform is back.
	if out := install(next); !strings.Contains(out, "0.1.0") {
		t.Errorf("dpkg did not set up 0.1.0:\n%s", out)
	}
	if got := string(readFile(t, filepath.Join(etc, "medterm.toml"))); got != config {
		t.Error("the upgrade replaced the configuration hospital IT wrote")
	}
	if !bytes.Equal(readFile(t, filepath.Join(root, "var", "lib", "medterm", "journal.key")), keyBefore) {
		t.Error("the upgrade changed the journal's key")
	}
	if _, err := os.Stat(journal); err != nil {
		t.Fatalf("the upgrade lost the journal: %v", err)
	}
	pl.Sandbox.SetOutage(false)
	c = start()
	if st := status(); st.Version != "0.1.0" {
		t.Errorf("the upgraded daemon says version %q; want 0.1.0", st.Version)
	}
	waitFor(t, "the forwarder to drain the backlog kept through the upgrade", func() bool {
		for _, id := range ids {
			var v api.SettlementView
			if _, err := c.Do(context.Background(), "GET", "/v1/settlements/"+id, nil, nil, &v); err != nil || v.State != agent.StateSettled {
				return false
			}
		}
		return true
	})
	ledger, err := pl.Sandbox.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ledger.Settlements); n != len(ids) {
		t.Errorf("the platform booked %d settlements; want the %d deferred bills, each once", n, len(ids))
	}

	// The service account runs the CLI of the new version.
	if out, code := asService("version"); code != 0 || !strings.Contains(out, "0.1.0") {
		t.Errorf("medterm version as the service user: exit %d\n%s", code, out)
	}
	// The terminal is healthy as its own account sees it: the journal and
	// key it can read, the running daemon of the new version, both
	// counterparties reachable (the card readers are off in this setup).
	out, code := asService("doctor", "--config", "/etc/medterm/medterm.toml")
	if code != 0 || strings.Contains(out, "FAIL") || !strings.Contains(out, "daemon running, version 0.1.0") {
		t.Errorf("medterm doctor as the service user: exit %d\n%s", code, out)
	}
	stop()

	// Removal keeps the journal, its key and the configuration; purge
	// removes them and the account.
	in("dpkg", "--remove", "medterm")
	for _, f := range []string{journal, filepath.Join(root, "var", "lib", "medterm", "journal.key"), filepath.Join(etc, "medterm.toml")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("removal lost %s: %v", strings.TrimPrefix(f, root), err)
		}
	}
	in("dpkg", "--purge", "medterm")
	for _, d := range []string{filepath.Join(root, "var", "lib", "medterm"), etc} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("purge left %s: %v", strings.TrimPrefix(d, root), err)
		}
	}
	if out, err := exec.Command("chroot", root, "getent", "passwd", "medterm").CombinedOutput(); err == nil {
		t.Errorf("purge left the service account: %s", out)
	}
}

// debianRoot makes a minimal Debian bookworm system in a folder, with the
// package's dependencies. MEDTERM_DEBIAN_MIRROR names another mirror.
func debianRoot(t *testing.T) string {
	t.Helper()
	mirror := os.Getenv("MEDTERM_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	root := filepath.Join(t.TempDir(), "debian")
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include=adduser,libpcsclite1,pcscd", "bookworm", root, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(out, 4<<10))
	}
	// No service starts inside the chroot (Debian's policy-rc.d).
	if err := os.WriteFile(filepath.Join(root, "usr", "sbin", "policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// packagedConfig is the packaged configuration as hospital IT edits it
// for the sandbox: the counterparties' addresses and the secrets beside
// it, the journal in the service's state directory.
func packagedConfig(platformURL, payURL, apiAddr string) string {
	return fmt.Sprintf(`[insurance]
url = %q
auth = "tif"
paasid = %q
token_file = "/etc/medterm/insurance.token"
recer_sys_code = "MBS_LOCAL"
attempt_timeout = "2s"
retry_window = "1s"
connect_window = "500ms"

[payment]
enabled = true
url = %q
merchant_id = "898440148160001"
tr_id = "62000000001"
key_file = "/etc/medterm/payment.key"
channel_key_file = "/etc/medterm/channel.pub"

[institution]
code = %q
name = "package test hospital"
region = "441900"

[terminal]
id = "PKG01"
slot = 3

[journal]
path = "/var/lib/medterm/journal.db"
key_file = "/var/lib/medterm/journal.key"

[api]
addr = %q
token_file = "/var/lib/medterm/api.token"

[cards]
enabled = false

[forwarder]
min_backoff = "50ms"
max_backoff = "500ms"
breaker_cooldown = "300ms"
`, platformURL, killtest.Institution, payURL, killtest.Institution, apiAddr)
}

// packageBill is bill i of a patient identified by the card data the HIS
// read (a deferrable identity).
func packageBill(t *testing.T, pl *killtest.Platform, persona string, i int) api.SettleBody {
	t.Helper()
	p, ok := pl.Personas.ByKey(persona)
	if !ok || p.Card == nil {
		t.Fatalf("persona %s has no card", persona)
	}
	fen := money.Fen(1200 + 100*i)
	return api.SettleBody{
		Identity: agent.IdentityInput{CertType: protocol.CertSSCard, CertNo: p.Card.CardNo, CardSN: p.Card.CardSn, IDNo: p.Certno, Name: p.Name},
		Operator: agent.Operator{ID: "D017", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: fmt.Sprintf("PKG%d", i), DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "001102000010000", Class: "01", Quantity: money.QuantityOf(1), UnitPriceFen: fen, Amount: fen},
		}},
	}
}

// writeServiceFile writes a secret the service account alone reads.
func writeServiceFile(t *testing.T, root, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(path, root)
	if out, err := exec.Command("chroot", root, "chown", "medterm:medterm", rel).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", rel, err, out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond for up to a minute: the daemon in the chroot is a
// process of its own whose progress only its API shows.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
