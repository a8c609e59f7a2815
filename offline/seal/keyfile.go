package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadKey reads the key in path: exactly KeySize raw bytes, in a file only
// its owner can read.
func LoadKey(path string) (Key, error) {
	var key Key
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return key, fmt.Errorf("load key %s: %w", path, ErrKeyMissing)
	}
	if err != nil {
		return key, fmt.Errorf("load key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return key, fmt.Errorf("load key %s: not a regular file: %w", path, ErrKeyMalformed)
	}
	if err := checkPrivate(fi); err != nil {
		return key, fmt.Errorf("load key %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return key, fmt.Errorf("load key: %w", err)
	}
	if len(data) != KeySize {
		return key, fmt.Errorf("load key %s: %d bytes, want %d: %w", path, len(data), KeySize, ErrKeyMalformed)
	}
	copy(key[:], data)
	return key, nil
}

// CreateKey makes a new random key in path, which must not exist, with
// mode 0600 (its directory, if missing, with mode 0700). The key appears
// under its name only once it is complete and synced, so a crash never
// leaves a short key behind that a later start would take for the real
// one.
func CreateKey(path string) (Key, error) {
	var key Key
	if _, err := rand.Read(key[:]); err != nil {
		return key, fmt.Errorf("create key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return key, fmt.Errorf("create key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return key, fmt.Errorf("create key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSynced(tmp, key[:]); err != nil {
		return key, fmt.Errorf("create key %s: %w", path, err)
	}
	// Link, not rename: it fails if another process created the key
	// meanwhile, instead of silently replacing a key already in use.
	if err := os.Link(tmp.Name(), path); err != nil {
		return key, fmt.Errorf("create key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return key, fmt.Errorf("create key %s: %w", path, err)
	}
	return key, nil
}

// LoadOrCreateKey loads the key in path, creating it first if it does not
// exist. created tells which happened.
func LoadOrCreateKey(path string) (key Key, created bool, err error) {
	key, err = LoadKey(path)
	if !errors.Is(err, ErrKeyMissing) {
		return key, false, err
	}
	key, err = CreateKey(path)
	return key, err == nil, err
}

func writeSynced(f *os.File, data []byte) error {
	// CreateTemp already makes the file 0600; Chmod says so explicitly in
	// case a platform's default differs.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
