package seal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/seed-a859fada/medterm/offline/seal"
)

func newSealer(t *testing.T, b byte) *seal.Sealer {
	t.Helper()
	var k seal.Key
	for i := range k {
		k[i] = b + byte(i)
	}
	s, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := newSealer(t, 1)
	plain := []byte(`{"id_no":"440101199001011234","name":"张三丰"}`)
	sealed, err := s.Seal(plain, []byte("DESK01-00000001"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(plain)+s.Overhead() {
		t.Errorf("sealed length %d, want %d", len(sealed), len(plain)+s.Overhead())
	}
	if bytes.Contains(sealed, []byte("440101199001011234")) || bytes.Contains(sealed, []byte("张三丰")) {
		t.Fatal("sealed bytes contain the plaintext")
	}
	got, err := s.Open(sealed, []byte("DESK01-00000001"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("opened %q, want %q", got, plain)
	}
}

func TestSealUsesAFreshNonceEachTime(t *testing.T) {
	s := newSealer(t, 1)
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: nonce reused")
	}
}

func TestOpenRefusesWhatItCannotAuthenticate(t *testing.T) {
	s := newSealer(t, 1)
	aad := []byte("DESK01-00000001")
	sealed, err := s.Seal([]byte("440101199001011234"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1
	cases := []struct {
		name   string
		sealer *seal.Sealer
		data   []byte
		aad    []byte
	}{
		{"wrong key", newSealer(t, 2), sealed, aad},
		{"another record's id", s, sealed, []byte("DESK01-00000002")},
		{"altered byte", s, flipped, aad},
		{"truncated", s, sealed[:10], aad},
		{"empty", s, nil, aad},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.sealer.Open(c.data, c.aad)
			if !errors.Is(err, seal.ErrAuth) {
				t.Fatalf("Open = %q, %v; want ErrAuth", got, err)
			}
		})
	}
}

func TestCreateKeyIsPrivateAndLoadsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc", "medterm")
	path := filepath.Join(dir, "journal.key")
	created, err := seal.CreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if created == (seal.Key{}) {
		t.Fatal("created key is all zeros")
	}
	if runtime.GOOS != "windows" {
		assertPerm(t, path, 0o600)
		assertPerm(t, dir, 0o700)
	}
	loaded, err := seal.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded != created {
		t.Fatal("loaded key differs from created key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (no temporary file left)", len(entries))
	}
}

func TestCreateKeyNeverReplacesAKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.key")
	first, err := seal.CreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.CreateKey(path); err == nil {
		t.Fatal("CreateKey over an existing key succeeded")
	}
	if k, _ := seal.LoadKey(path); k != first {
		t.Fatal("existing key was replaced")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.key")
	k1, created, err := seal.LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("first call: created %v, err %v; want a new key", created, err)
	}
	k2, created, err := seal.LoadOrCreateKey(path)
	if err != nil || created {
		t.Fatalf("second call: created %v, err %v; want the existing key", created, err)
	}
	if k1 != k2 {
		t.Fatal("second call returned another key")
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	cases := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    error
		unix    bool // mode bits are only meaningful off Windows
	}{
		{"missing file", nil, 0, seal.ErrKeyMissing, false},
		{"short key", make([]byte, 15), 0o600, seal.ErrKeyMalformed, false},
		{"long key", make([]byte, 17), 0o600, seal.ErrKeyMalformed, false},
		{"hex text instead of raw bytes", []byte("00112233445566778899aabbccddeeff"), 0o600, seal.ErrKeyMalformed, false},
		{"group readable", make([]byte, 16), 0o640, seal.ErrKeyExposed, true},
		{"world readable", make([]byte, 16), 0o604, seal.ErrKeyExposed, true},
		{"group writable", make([]byte, 16), 0o620, seal.ErrKeyExposed, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.unix && runtime.GOOS == "windows" {
				t.Skip("mode bits do not apply on Windows; ACLs protect the key there")
			}
			path := filepath.Join(t.TempDir(), "journal.key")
			if c.content != nil {
				if err := os.WriteFile(path, c.content, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, c.mode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := seal.LoadKey(path)
			if !errors.Is(err, c.want) {
				t.Fatalf("LoadKey error %v, want %v", err, c.want)
			}
		})
	}
}

func TestLoadKeyAcceptsOwnerOnlyModes(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o400} {
		path := filepath.Join(t.TempDir(), "journal.key")
		if err := os.WriteFile(path, make([]byte, 16), mode); err != nil {
			t.Fatal(err)
		}
		if _, err := seal.LoadKey(path); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}

func assertPerm(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}
