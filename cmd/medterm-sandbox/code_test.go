package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/devices/imagecode"
)

func TestCodeCommandShowsAPhonesCode(t *testing.T) {
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	_, stop := serving(t, "--state", filepath.Join(dir, "s.db"), "--secrets", writeSecrets(t, dir), "--addr-file", addrFile, "--log-level", "warn")
	defer stop()
	code := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		c := run(t.Context(), append([]string{"code"}, args...), &stdout, &stderr)
		return c, stdout.String(), stderr.String()
	}

	pngFile := filepath.Join(dir, "code.png")
	c, out, errOut := code("acct-first", "--addr-file", addrFile, "--png", pngFile, "--qr")
	if c != exitOK {
		t.Fatalf("exit %d: %s", c, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	text := lines[len(lines)-1]
	if !strings.HasPrefix(text, "YB1:") || !strings.Contains(out, "▀") || !strings.Contains(errOut, "counter 1") {
		t.Fatalf("stdout %q, stderr %q", out, errOut)
	}
	f, err := os.Open(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Read as a kiosk camera reads it: plain gozxing misreads a few percent
	// of dense codes at one orientation, which imagecode's last pass
	// catches.
	dec, err := imagecode.New(imagecode.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dec.DecodeImage(img); err != nil || got != text {
		t.Fatalf("the PNG reads %q, %v; want the code printed", got, err)
	}

	// Each call is the phone's next code.
	if c, out, errOut = code("acct-first", "--addr-file", addrFile); c != exitOK || strings.TrimSpace(out) == text || !strings.Contains(errOut, "counter 2") {
		t.Fatalf("second code: exit %d %q %q", c, out, errOut)
	}
	if c, out, _ = code("opaque-only", "--addr-file", addrFile); c != exitOK || !strings.HasPrefix(out, "EC") {
		t.Fatalf("opaque: exit %d %q", c, out)
	}
	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"nobody", "--addr-file", addrFile}, exitFailure, "unknown persona"},
		{[]string{"family-child", "--addr-file", addrFile}, exitFailure, "no phone"},
		{[]string{"--addr-file", addrFile}, exitUsage, "persona key"},
		{[]string{"acct-first"}, exitUsage, "--sandbox"},
	} {
		if c, _, errOut := code(tt.args...); c != tt.code || !strings.Contains(errOut, tt.says) {
			t.Errorf("code %q: exit %d %q, want %d mentioning %q", tt.args, c, errOut, tt.code, tt.says)
		}
	}
}
