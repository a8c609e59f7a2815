//go:build !unix

package scanner

// portID is empty where device files have no identity to compare (COM
// ports on Windows): there the driver's read error is what tells an
// unplugged scanner.
type portID struct{}

func identify(string) (portID, error) { return portID{}, nil }
