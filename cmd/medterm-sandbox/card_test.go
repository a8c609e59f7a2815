package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vpcdReader is the listening side of one vpcd reader, without pcscd:
// it accepts the card's connection and asks for its ATR in vpcd's
// framing.
type vpcdReader struct {
	ln    net.Listener
	conns chan net.Conn
}

func newVPCDReader(t *testing.T) *vpcdReader {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := &vpcdReader{ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			v.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return v
}

// atr waits for a card and returns its answer to reset.
func (v *vpcdReader) atr(t *testing.T) (net.Conn, []byte) {
	t.Helper()
	var c net.Conn
	select {
	case c = <-v.conns:
	case <-time.After(10 * time.Second):
		t.Fatal("no card came into the reader")
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte{0, 1, 4}); err != nil {
		t.Fatal(err)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	atr := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c, atr); err != nil {
		t.Fatal(err)
	}
	return c, atr
}

func TestCardCommandsDriveTheRunningSandbox(t *testing.T) {
	dir := t.TempDir()
	reader, psamReader := newVPCDReader(t), newVPCDReader(t)
	addrFile := filepath.Join(dir, "addr")
	addr, stop := serving(t, "--state", filepath.Join(dir, "s.db"), "--secrets", writeSecrets(t, dir), "--addr-file", addrFile,
		"--log-level", "warn", "--vpcd", reader.ln.Addr().String(), "--vpcd-psam", psamReader.ln.Addr().String())
	defer stop()
	if _, atr := psamReader.atr(t); !bytes.Contains(atr, []byte("PSAM")) {
		t.Fatalf("the PSAM reader got ATR %X", atr)
	}
	card := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{"card"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	code, out, errOut := card("insert", "acct-first", "--addr-file", addrFile)
	if code != exitOK || !strings.Contains(out, "reader 0: acct-first's card (3.00) inserted") {
		t.Fatalf("insert: exit %d, %q %q", code, out, errOut)
	}
	conn, atr := reader.atr(t)
	if !bytes.HasPrefix(atr, []byte{0x3B, 0x6C, 0x00, 0x00, 'S', 'S', 'C', '3'}) {
		t.Fatalf("the card reader got ATR %X", atr)
	}
	code, out, _ = card("list", "--sandbox", "http://"+addr)
	if code != exitOK || !strings.Contains(out, "reader 0") || !strings.Contains(out, "acct-first (3.00)") || !strings.Contains(out, "PSAM") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	code, out, _ = card("list", "--sandbox", addr, "--json")
	if code != exitOK || !strings.Contains(out, `"persona":"acct-first"`) {
		t.Fatalf("list --json: exit %d\n%s", code, out)
	}
	code, out, errOut = card("remove", "--reader", "0", "--addr-file", addrFile)
	if code != exitOK || !strings.Contains(out, "acct-first's card removed") {
		t.Fatalf("remove: exit %d, %q %q", code, out, errOut)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the card's connection after remove: %v, want EOF", err)
	}

	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"an unknown persona", []string{"insert", "nobody", "--addr-file", addrFile}, exitFailure, "unknown persona"},
		{"a reader that is not there", []string{"insert", "bank-card", "--reader", "3", "--addr-file", addrFile}, exitFailure, "no such card reader"},
		{"removing from an empty reader", []string{"remove", "--addr-file", addrFile}, exitFailure, "empty"},
		{"faults that are not JSON", []string{"insert", "bank-card", "--faults", "pull", "--addr-file", addrFile}, exitUsage, "--faults"},
		{"no sandbox named", []string{"list"}, exitUsage, "--sandbox"},
		{"two sandboxes named", []string{"list", "--sandbox", addr, "--addr-file", addrFile}, exitUsage, "not both"},
		{"no persona", []string{"insert", "--addr-file", addrFile}, exitUsage, "persona key"},
		{"a sandbox that is not running", []string{"list", "--addr-file", filepath.Join(dir, "missing")}, exitFailure, "serve running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := card(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.says) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.says)
			}
		})
	}
}

func TestOutageCommand(t *testing.T) {
	dir := t.TempDir()
	addr, stop := serving(t, "--state", filepath.Join(dir, "s.db"), "--secrets", writeSecrets(t, dir), "--log-level", "warn")
	defer stop()
	for _, step := range []struct{ arg, says string }{
		{"status", "up"}, {"on", "down"}, {"status", "down"}, {"off", "up"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"outage", step.arg, "--sandbox", addr}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), step.says) {
			t.Fatalf("outage %s: exit %d, %q %q", step.arg, code, stdout.String(), stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"outage", "maybe", "--sandbox", addr}, io.Discard, &stderr); code != exitUsage {
		t.Fatalf("outage maybe: exit %d", code)
	}
}
