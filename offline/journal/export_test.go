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

// RecordBucket names where id's record is kept: "settlements" under way,
// "ended" at its end, "" if nowhere, both names if in both.
func RecordBucket(j *Journal, id string) (name string) {
	j.db.View(func(tx *bolt.Tx) error {
		t := j.wrap(tx)
		if t.settlements.Get([]byte(id)) != nil {
			name += "settlements"
		}
		if end := t.endOf([]byte(id)); end != 0 && t.ended.Get(encodeSeq(end)) != nil {
			name += "ended"
		}
		return nil
	})
	return name
}

// EndedOrder is the ids of the ended records in the order they are kept,
// as the sequence index leads to them.
func EndedOrder(j *Journal) (ids []string) {
	j.db.View(func(tx *bolt.Tx) error {
		t := j.wrap(tx)
		at := map[string]string{}
		t.bySeq.ForEach(func(_, v []byte) error {
			at[string(encodeSeq(t.seqEnd(v)))] = string(t.seqID(v))
			return nil
		})
		return t.ended.ForEach(func(k, _ []byte) error {
			ids = append(ids, at[string(k)])
			return nil
		})
	})
	return ids
}

// EndedPages is the bytes of pages the ended records take.
func EndedPages(j *Journal) (n int) {
	j.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketEndedRecords).Stats()
		n = st.LeafAlloc + st.BranchAlloc
		return nil
	})
	return n
}
