//go:build windows

package main

import "golang.org/x/sys/windows"

// freeBytes is the room left for this user on dir's disk.
func freeBytes(dir string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var free, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &total, &totalFree); err != nil {
		return 0, err
	}
	return free, nil
}

// accessible: Windows decides by the ACLs when the daemon opens the file;
// the doctor does not try to write to find out.
func accessible(string, bool) bool { return true }
