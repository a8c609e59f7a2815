package journal

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
)

// Since schema 9 a settlement's record is kept in one of two places:
// settlements while it is under way, the ended records once it reaches
// its end (agent.State.Terminal), moved by the write that ends it. A
// record grows by about half from its acceptance to its end (the
// booking, the payment, the history); grown in place, among records
// accepted with it, it would split their pages and leave each half empty
// for good. Apart, each place's pages stay full: the records under way
// are few, or a backlog of deferred bills that do not grow until they
// leave, and the ended ones no longer change. A refund takes a record
// back under way, and to its end again.
//
// Since schema 10 the ended records are keyed by the order they ended in
// (their end, counted from 1), and so are the state index's entries of
// settlements at their end. Settlements end in another order than they
// were accepted in (a drain forwards sixteen at a time, a pending part is
// paid days later); keyed by id or sequence, whatever ended after a later
// one went into the middle of full pages, and split them: the pages of
// schema 9 were little more than half full. Keyed by their end, they are
// only ever appended. What leads from an id to its end is the sequence
// index, whose entries were written at acceptance, in order, with room
// for it: the end (8 bytes, zero while under way), then the id.

// seqValue is the sequence index's value for id, ended at end (0 while
// under way); a file before schema 10, migrating, has the bare id.
func seqValue(end uint64, id []byte) []byte {
	return append(encodeSeq(end), id...)
}

// seqID and seqEnd read a sequence index value; one too short to hold
// an end is a damaged file, which Verify reports.
func (t *tx) seqID(v []byte) []byte {
	switch {
	case t.ended == nil:
		return v
	case len(v) < 8:
		return nil
	}
	return v[8:]
}

func (t *tx) seqEnd(v []byte) uint64 {
	if t.ended == nil || len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// seqOfID is the sequence number an id of this journal carries after its
// last '-' (Accept makes it so).
func seqOfID(id []byte) (uint64, bool) {
	i := bytes.LastIndexByte(id, '-')
	if i < 0 {
		return 0, false
	}
	seq, err := strconv.ParseUint(string(id[i+1:]), 10, 64)
	return seq, err == nil
}

// endOf is the end of id's settlement, 0 if it is under way or unknown.
func (t *tx) endOf(id []byte) uint64 {
	seq, ok := seqOfID(id)
	if !ok {
		return 0
	}
	v := t.bySeq.Get(encodeSeq(seq))
	if !bytes.Equal(t.seqID(v), id) {
		return 0
	}
	return t.seqEnd(v)
}

// stateSlot is the state index's key for a settlement in state: by its
// sequence while under way, by its end at its end.
func (t *tx) stateSlot(state agent.State, seq, end uint64) []byte {
	if state.Terminal() && t.ended != nil {
		return stateKey(state, end)
	}
	return stateKey(state, seq)
}

// record is the stored record of id, or nil.
func (t *tx) record(id []byte) []byte {
	if v := t.settlements.Get(id); v != nil {
		return v
	}
	if end := t.endOf(id); end != 0 {
		return t.ended.Get(encodeSeq(end))
	}
	return nil
}

// putRecord stores the record of id, accepted as seq, in state, where
// that state keeps it, and takes it out of the other place when its
// state moved it; it keeps the sequence index's entry in step, and
// returns the settlement's end before and after (0 under way).
func (t *tx) putRecord(id []byte, seq uint64, data []byte, state agent.State) (was, end uint64, err error) {
	key := encodeSeq(seq)
	prev := t.bySeq.Get(key)
	if t.ended == nil { // a file before schema 10, migrating
		if prev == nil {
			if err := t.bySeq.Put(key, id); err != nil {
				return 0, 0, err
			}
		}
		return 0, 0, t.settlements.Put(id, data)
	}
	was = t.seqEnd(prev)
	switch ends := state.Terminal(); {
	case ends && was != 0: // changed at its end: in its place
		return was, was, t.ended.Put(encodeSeq(was), data)
	case ends:
		if err := t.settlements.Delete(id); err != nil {
			return 0, 0, err
		}
		if end, err = t.ended.NextSequence(); err != nil {
			return 0, 0, err
		}
		err = t.ended.Put(encodeSeq(end), data)
	case was != 0: // a refund takes it back under way
		if err := t.ended.Delete(encodeSeq(was)); err != nil {
			return 0, 0, err
		}
		err = t.settlements.Put(id, data)
	default:
		err = t.settlements.Put(id, data)
	}
	if err != nil {
		return 0, 0, err
	}
	if prev == nil || was != end {
		// The same length as before: rewritten in place, no page split.
		return was, end, t.bySeq.Put(key, seqValue(end, id))
	}
	return was, end, nil
}

// rewriteRecord replaces the record of id where it is kept.
func (t *tx) rewriteRecord(id, data []byte) error {
	if end := t.endOf(id); end != 0 {
		return t.ended.Put(encodeSeq(end), data)
	}
	return t.settlements.Put(id, data)
}

// deleteRecord removes the record of id from wherever it is kept; the
// sequence index's entry is the caller's to remove.
func (t *tx) deleteRecord(id []byte) error {
	if end := t.endOf(id); end != 0 {
		if err := t.ended.Delete(encodeSeq(end)); err != nil {
			return err
		}
	}
	return t.settlements.Delete(id)
}

// eachRecord calls fn with every record kept, those under way first, then
// the ended ones by sequence, with their end (0 under way); data is nil
// for an end whose record is missing, which Verify reports.
func (t *tx) eachRecord(fn func(id, data []byte, end uint64) error) error {
	if err := t.settlements.ForEach(func(id, data []byte) error { return fn(id, data, 0) }); err != nil {
		return err
	}
	if t.ended == nil {
		return nil
	}
	return t.bySeq.ForEach(func(_, v []byte) error {
		if end := t.seqEnd(v); end != 0 {
			return fn(t.seqID(v), t.ended.Get(encodeSeq(end)), end)
		}
		return nil
	})
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

// endedInOrder keys the records of ended settlements, and their state
// index entries, by the order they ended in, and gives every sequence
// index entry its room for the end (schema 10). The order they ended in
// before is not known; the order they were accepted in stands for it.
// Everything is read before anything is written: a bucket changed under
// its cursor may skip or repeat keys.
func endedInOrder(tx *bolt.Tx) error {
	recs, err := tx.CreateBucket(bucketEndedRecords)
	if err != nil {
		return err
	}
	bySeq, byState, old := tx.Bucket(bucketBySeq), tx.Bucket(bucketByState), tx.Bucket(bucketEnded)
	if bySeq == nil || byState == nil || old == nil {
		return nil
	}
	recs.FillPercent, bySeq.FillPercent, byState.FillPercent = 0.9, 0.9, 0.9
	type entry struct{ k, v []byte }
	var seqs []entry
	var states []struct{ from, to, id []byte }
	ends := map[string]uint64{}
	if err := bySeq.ForEach(func(k, id []byte) error {
		var end uint64
		if data := old.Get(id); data != nil {
			n, err := recs.NextSequence()
			if err != nil {
				return err
			}
			end = n
			ends[string(id)] = end
			if err := recs.Put(encodeSeq(end), bytes.Clone(data)); err != nil {
				return err
			}
		}
		seqs = append(seqs, entry{bytes.Clone(k), seqValue(end, id)})
		return nil
	}); err != nil {
		return err
	}
	if err := byState.ForEach(func(k, v []byte) error {
		if i := bytes.IndexByte(k, 0); i > 0 && agent.State(k[:i]).Terminal() {
			// A file upgraded through schema 6 has queue entries at the
			// end too; a bare id now, as put writes it.
			id := stateValueID(v)
			if end, ok := ends[string(id)]; ok {
				states = append(states, struct{ from, to, id []byte }{bytes.Clone(k), stateKey(agent.State(k[:i]), end), bytes.Clone(id)})
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, e := range seqs {
		if err := bySeq.Put(e.k, e.v); err != nil {
			return err
		}
	}
	for _, e := range states {
		if err := byState.Delete(e.from); err != nil {
			return err
		}
	}
	for _, e := range states {
		if err := byState.Put(e.to, e.id); err != nil {
			return err
		}
	}
	return tx.DeleteBucket(bucketEnded)
}
