package atomicfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/seed-a859fada/medterm/agent/atomicfile"
)

func TestWriteLeavesTheWholeFileOrNone(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "api.token")
	if err := atomicfile.Write(p, []byte("secret\n"), 0o640, true); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("stat: %v %v", fi, err)
	}
	if err := atomicfile.Write(p, []byte("other\n"), 0o640, true); !errors.Is(err, os.ErrExist) {
		t.Fatalf("exclusive write over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "secret\n" {
		t.Fatalf("the existing file changed: %q", b)
	}
	if err := atomicfile.Write(p, []byte("new\n"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}
