package journal

import (
	"bytes"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
)

// Since schema 9 a settlement's record is kept in one of two buckets:
// settlements while it is under way, ended once it reaches its end
// (agent.State.Terminal), moved by the write that ends it. A record grows
// by about half from its acceptance to its end (the booking, the payment,
// the history); grown in place, among records accepted with it, it would
// split their pages and leave each half empty for good. Apart, each
// bucket's pages stay full: the records under way are few, or a backlog
// of deferred bills that do not grow until they leave, and the ended ones
// no longer change. A refund takes a record back under way, and to its
// end again.

// record is the stored record of id, or nil.
func (t *tx) record(id []byte) []byte {
	if v := t.settlements.Get(id); v != nil {
		return v
	}
	if t.ended != nil {
		return t.ended.Get(id)
	}
	return nil
}

// recordsIn is the bucket that keeps the record of a settlement in state.
func (t *tx) recordsIn(state agent.State) *bolt.Bucket {
	if t.ended != nil && state.Terminal() {
		return t.ended
	}
	return t.settlements
}

// putRecord stores the record of id, in state, in its bucket, and takes
// it out of the other when its state moved it; old is the settlement as
// it was stored, nil for a new one.
func (t *tx) putRecord(id, data []byte, state agent.State, old *agent.Settlement) error {
	to := t.recordsIn(state)
	if old != nil {
		if from := t.recordsIn(old.State); from != to {
			if err := from.Delete(id); err != nil {
				return err
			}
		}
	}
	return to.Put(id, data)
}

// deleteRecord removes the record of id from whichever bucket holds it.
func (t *tx) deleteRecord(id []byte) error {
	for _, b := range t.recordBuckets() {
		if err := b.Delete(id); err != nil {
			return err
		}
	}
	return nil
}

// recordBuckets are the buckets that hold records.
func (t *tx) recordBuckets() []*bolt.Bucket {
	var out []*bolt.Bucket
	for _, b := range []*bolt.Bucket{t.settlements, t.ended} {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// endedRecords moves the records of ended settlements, found by the state
// index without reading a record, to their own bucket (schema 9).
func endedRecords(tx *bolt.Tx) error {
	recs, idx := tx.Bucket(bucketSettlements), tx.Bucket(bucketByState)
	ended, err := tx.CreateBucket(bucketEnded)
	if err != nil {
		return err
	}
	if recs == nil || idx == nil {
		return nil
	}
	var ids [][]byte
	if err := idx.ForEach(func(k, v []byte) error {
		if i := bytes.IndexByte(k, 0); i > 0 && agent.State(k[:i]).Terminal() {
			ids = append(ids, bytes.Clone(stateValueID(v)))
		}
		return nil
	}); err != nil {
		return err
	}
	// In id order, as they were accepted: each page filled once.
	slices.SortFunc(ids, bytes.Compare)
	ended.FillPercent = 0.9
	for _, id := range ids {
		data := recs.Get(id)
		if data == nil {
			continue // Verify reports the stale entry
		}
		if err := ended.Put(id, bytes.Clone(data)); err != nil {
			return err
		}
		if err := recs.Delete(id); err != nil {
			return err
		}
	}
	return nil
}
