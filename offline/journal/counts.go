package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
)

// The number of settlements in each state is kept with the records
// (schema 7), changed in the same transaction as the state index: the
// status that the HIS, the kiosk page and the window poll reads a few
// keys, however many settlements the journal holds, where counting the
// index cost a pass over every entry at every poll.
var bucketStateCounts = []byte("state_counts") // state -> count, 8 bytes big-endian

// countState adds delta to the count of state. A file before schema 7
// has no counts to keep: its migration counts the index.
func (t *tx) countState(state agent.State, delta int64) error {
	if t.stateCounts == nil {
		return nil
	}
	var n int64
	if v := t.stateCounts.Get([]byte(state)); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		return fmt.Errorf("%w: the count of %s settlements would be %d", ErrCorrupt, state, n)
	}
	if n == 0 {
		return t.stateCounts.Delete([]byte(state))
	}
	return t.stateCounts.Put([]byte(state), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// readStateCounts reads the counts; a file before schema 7 has its index
// counted.
func (t *tx) readStateCounts() (map[agent.State]int, error) {
	if t.stateCounts == nil {
		return countIndex(t.byState)
	}
	out := map[agent.State]int{}
	err := t.stateCounts.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: the count of %s settlements is %d bytes long", ErrCorrupt, k, len(v))
		}
		out[agent.State(k)] = int(binary.BigEndian.Uint64(v))
		return nil
	})
	return out, err
}

// countIndex counts the state index's entries per state: what the counts
// must agree with.
func countIndex(idx *bolt.Bucket) (map[agent.State]int, error) {
	out := map[agent.State]int{}
	err := idx.ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i > 0 {
			out[agent.State(k[:i])]++
		}
		return nil
	})
	return out, err
}

// stateCounts is the schema 7 migration: the counts of the settlements
// already stored, from their state index.
func stateCounts(tx *bolt.Tx) error {
	b, err := tx.CreateBucket(bucketStateCounts)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketStateCounts, err)
	}
	idx := tx.Bucket(bucketByState)
	if idx == nil {
		return nil
	}
	counts, err := countIndex(idx)
	if err != nil {
		return err
	}
	for state, n := range counts {
		if err := b.Put([]byte(state), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
			return err
		}
	}
	return nil
}
