//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Debian package as make package builds it (packaging/nfpm.yaml):
// the binary, the configuration as a conffile kept on upgrade, the
// hardened unit after pcscd, and scripts that keep the data on removal
// and remove it on purge.
func TestTheDebianPackageHoldsTheServiceAndKeepsTheData(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatal("dpkg-deb is missing (Debian's dpkg)")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	deb := buildDeb(t, "0.1.0+test")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	contents := run("--contents", deb)
	for _, f := range []string{"./usr/bin/medterm", "./usr/bin/medterm-kiosk", "./etc/medterm/medterm.toml",
		"./usr/lib/systemd/system/medterm.service", "./usr/lib/udev/rules.d/99-medterm-scanner.rules"} {
		if !strings.Contains(contents, f+"\n") {
			t.Errorf("the package lacks %s", f)
		}
	}
	ctl := filepath.Join(dir, "control")
	run("--control", deb, ctl)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(ctl, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("conffiles"); !strings.Contains(got, "/etc/medterm/medterm.toml") {
		t.Errorf("the configuration is not a conffile (an upgrade would replace it): %q", got)
	}
	if got := read("control"); !strings.Contains(got, "Depends: adduser, libpcsclite1, pcscd") {
		t.Errorf("control: %s", got)
	}
	post, prerm, postrm := read("postinst"), read("prerm"), read("postrm")
	if !strings.Contains(post, "medterm doctor") || !strings.Contains(post, "adduser --system") {
		t.Errorf("postinst does not make the service user and run the doctor:\n%s", post)
	}
	if strings.Contains(prerm, "rm -rf") || !strings.Contains(postrm, "purge)") || !strings.Contains(postrm, "rm -rf /var/lib/medterm") {
		t.Errorf("removal must keep the data and purge remove it:\nprerm:\n%s\npostrm:\n%s", prerm, postrm)
	}
	unit, err := os.ReadFile(filepath.Join(repo, "packaging", "linux", "medterm.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"User=medterm", "StateDirectory=medterm", "ProtectSystem=strict", "NoNewPrivileges=true", "PrivateTmp=true", "Restart=on-failure", "After=network-online.target pcscd.socket"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	// The package's own binary answers.
	x := filepath.Join(dir, "x")
	run("--extract", deb, x)
	if out, err := exec.Command(filepath.Join(x, "usr", "bin", "medterm"), "version").CombinedOutput(); err != nil || !strings.Contains(string(out), "medterm") {
		t.Errorf("the packaged medterm version: %v\n%s", err, out)
	}
}

// buildDeb builds the Debian package as make package does, its binary
// stamped with version, and returns the package's path.
func buildDeb(t *testing.T, version string) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// nfpm reads its sources relative to the directory it runs in: a
	// directory of links to the repository and a freshly built binary.
	dir := t.TempDir()
	for _, name := range []string{"packaging", "README.md"} {
		if err := os.Symlink(filepath.Join(repo, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin", "package", "medterm")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", bin, "github.com/seed-a859fada/medterm/cmd/medterm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tool := filepath.Join(dir, "nfpm-tool")
	if out, err := exec.Command("go", "build", "-o", tool, "github.com/goreleaser/nfpm/v2/cmd/nfpm").CombinedOutput(); err != nil {
		t.Fatalf("build nfpm: %v\n%s", err, out)
	}
	deb := filepath.Join(dir, "medterm_"+version+"_amd64.deb")
	nfpm := exec.Command(tool, "package", "--config", "packaging/nfpm.yaml", "--packager", "deb", "--target", deb)
	nfpm.Dir = dir
	nfpm.Env = append(os.Environ(), "ARCH=amd64", "VERSION="+version)
	if out, err := nfpm.CombinedOutput(); err != nil {
		t.Fatalf("nfpm: %v\n%s", err, out)
	}
	return deb
}
