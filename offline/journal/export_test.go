package journal

import bolt "go.etcd.io/bbolt"

// Decompress and Compress let the tests outside the package read and
// forge stored records as an attacker with the file would.
var (
	Decompress = decompress
	Compress   = compress
)

// MsgidEntries is the number of entries of the msgid index: runs since
// schema 8.
func MsgidEntries(j *Journal) (n int) {
	j.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketByMsgid).Stats().KeyN
		return nil
	})
	return n
}

// RecordBucket names the bucket that holds id's record, "" if none.
func RecordBucket(j *Journal, id string) (name string) {
	j.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSettlements, bucketEnded} {
			if bk := tx.Bucket(b); bk != nil && bk.Get([]byte(id)) != nil {
				name += string(b)
			}
		}
		return nil
	})
	return name
}
