package journal

// Decompress and Compress let the tests outside the package read and
// forge stored records as an attacker with the file would.
var (
	Decompress = decompress
	Compress   = compress
)

// LatestSchema is the schema version this medterm writes.
var LatestSchema = len(migrations)
