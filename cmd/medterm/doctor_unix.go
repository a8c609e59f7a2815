//go:build !windows

package main

import "golang.org/x/sys/unix"

// freeBytes is the room left for an unprivileged writer on dir's disk.
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// accessible reports whether this process may read and, if write is set,
// write path: checked, never tried.
func accessible(path string, write bool) bool {
	mode := uint32(unix.R_OK)
	if write {
		mode |= unix.W_OK
	}
	return unix.Access(path, mode) == nil
}
