//go:build windows

package seal

import "io/fs"

// checkPrivate accepts any key file on Windows: mode bits mean nothing
// there, and access is controlled by the ACL of the service's data
// directory, which the installer restricts.
func checkPrivate(fs.FileInfo) error { return nil }

// syncDir does nothing on Windows, where directories cannot be opened for
// syncing and NTFS journals the directory entry itself.
func syncDir(string) error { return nil }
