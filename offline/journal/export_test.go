package journal

// Decompress and Compress let the tests outside the package read and
// forge stored records as an attacker with the file would.
var (
	Decompress = decompress
	Compress   = compress
)
