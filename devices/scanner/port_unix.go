//go:build unix

package scanner

import (
	"os"
	"syscall"
)

// portID is which device a port path leads to. A stable name such as
// /dev/scanner is a symlink that udev removes on unplug and points at the
// new device on replug; comparing the identity tells a quiet port from a
// port that has gone.
type portID struct {
	dev, ino, rdev uint64
}

func identify(path string) (portID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return portID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return portID{}, nil
	}
	return portID{dev: uint64(st.Dev), ino: uint64(st.Ino), rdev: uint64(st.Rdev)}, nil
}
