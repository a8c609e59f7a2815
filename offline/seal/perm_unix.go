//go:build !windows

package seal

import (
	"fmt"
	"io/fs"
	"os"
)

// checkPrivate refuses a key that group or others may read: a key exposed
// like that may already have been copied, and using it would hide the
// problem instead of reporting it.
func checkPrivate(fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o gives group or others access; chmod 600 it (and consider the key compromised): %w", perm, ErrKeyExposed)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
