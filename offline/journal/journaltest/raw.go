package journaltest

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// RawRecord finds the stored bytes of settlement id's record in a journal
// file opened with bbolt directly, as a test that damages the file, or an
// attacker with a copy of it, reads it: under way in settlements by id,
// at its end in ended_records under the end the sequence index gives it
// (the end, 8 bytes, before the id). It returns the bucket and the key,
// nil if the record is in neither.
func RawRecord(tx *bolt.Tx, id string) (b *bolt.Bucket, key []byte) {
	if b := tx.Bucket([]byte("settlements")); b.Get([]byte(id)) != nil {
		return b, []byte(id)
	}
	var end []byte
	_ = tx.Bucket([]byte("by_seq")).ForEach(func(_, v []byte) error {
		if len(v) > 8 && bytes.Equal(v[8:], []byte(id)) {
			end = bytes.Clone(v[:8])
		}
		return nil
	})
	if b := tx.Bucket([]byte("ended_records")); end != nil && b.Get(end) != nil {
		return b, end
	}
	return nil, nil
}
