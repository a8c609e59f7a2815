package journal

import (
	"bytes"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The msgid index (schema 8) holds runs, not single msgids: a settlement's
// msgids are allocated one after the other (its five steps in the write
// that accepts it), so one entry says "from the first to the last, all
// this settlement's", where one per msgid cost a fifth of every record's
// share of the journal.
//
// An entry's key is the run's first msgid; its value the owner (a
// settlement's id, or noSettlement) and, for a run of more than one, a NUL
// and the last msgid, of which only what differs from the first is kept
// (its last characters: the counter, or the time, slot and counter; the
// whole msgid in entries written before, which reads the same way). A run only ever grows by the msgid the clock hands
// out right after its last (protocol.MsgidAfter), so that every msgid
// between its ends with the institution and slot of its first is its own:
// a clock that jumps ahead, another owner's msgid in between or a msgid a
// caller set starts a new run. Ids never hold a NUL.
type msgidIndex struct{ b *bolt.Bucket }

// owner is the owner of msgid m, or nil when none was indexed.
func (x msgidIndex) owner(m []byte) []byte {
	_, v := x.holding(m)
	if v == nil {
		return nil
	}
	return runOwner(v)
}

// holding is the entry whose run holds m: m itself, or the run before it
// when m lies in that run; nil if none.
func (x msgidIndex) holding(m []byte) (k, v []byte) {
	c := x.b.Cursor()
	k, v = c.Seek(m)
	if bytes.Equal(k, m) {
		return k, v
	}
	if k == nil {
		k, v = last(c)
	} else {
		k, v = c.Prev()
	}
	if k == nil || !inRun(k, v, m) {
		return nil, nil
	}
	return k, v
}

// add indexes m for owner, which must not already be indexed: it extends
// the run before it when m is that run's next msgid and the run is
// owner's.
func (x msgidIndex) add(m, owner []byte) error {
	c := x.b.Cursor()
	k, v := c.Seek(m)
	if k == nil {
		k, v = last(c)
	} else {
		k, v = c.Prev()
	}
	if k != nil && bytes.Equal(runOwner(v), owner) {
		if next, ok := protocol.MsgidAfter(string(runLast(k, v))); ok && next == string(m) {
			return x.b.Put(k, runValue(owner, k, m))
		}
	}
	return x.b.Put(m, owner)
}

// last is the bucket's last entry, nil if it has none. bbolt's
// Cursor.Last never returns when every leaf of the bucket was emptied by
// deletes in the same transaction (the archive's, taking the last of the
// settlements out): at the first leaf, empty, it steps back and lands on
// it again. Cursor.First steps over empty leaves, and finds none.
func last(c *bolt.Cursor) (k, v []byte) {
	if k, _ := c.First(); k == nil {
		return nil, nil
	}
	return c.Last()
}

// removeOwned deletes the run holding m if owner owns it (the archive's
// way out for a settlement leaving the journal).
func (x msgidIndex) removeOwned(m, owner []byte) error {
	k, v := x.holding(m)
	if k == nil || !bytes.Equal(runOwner(v), owner) {
		return nil
	}
	return x.b.Delete(bytes.Clone(k))
}

// inRun reports whether m lies in the run first..last of value v: between
// its ends, a well-formed msgid of the same institution and slot.
func inRun(first, v, m []byte) bool {
	if bytes.IndexByte(v, 0) < 0 {
		return false // a single msgid, and m is not it
	}
	last := runLast(first, v)
	return bytes.Compare(first, m) < 0 && bytes.Compare(m, last) <= 0 &&
		len(m) == protocol.MsgidLen && len(first) == protocol.MsgidLen &&
		bytes.Equal(m[:12], first[:12]) && bytes.Equal(m[26:28], first[26:28]) &&
		protocol.ValidMsgid(string(m)) == nil
}

func runOwner(v []byte) []byte {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		return v[:i]
	}
	return v
}

// runLast is the last msgid of the run keyed first with value v: the
// first with its end replaced by what v keeps of the last.
func runLast(first, v []byte) []byte {
	i := bytes.IndexByte(v, 0)
	if i < 0 {
		return first
	}
	tail := v[i+1:]
	if len(tail) > len(first) {
		return tail // malformed: Verify finds its msgids owned by nobody
	}
	return append(bytes.Clone(first[:len(first)-len(tail)]), tail...)
}

// runValue is the value of the run first..last owned by owner.
func runValue(owner, first, last []byte) []byte {
	p := 0
	for p < len(first) && p < len(last) && first[p] == last[p] {
		p++
	}
	tail := last[p:] // both MsgidLen long: only a well-formed msgid has a next
	v := make([]byte, 0, len(owner)+1+len(tail))
	v = append(v, owner...)
	v = append(v, 0)
	return append(v, tail...)
}

// msgidRuns rebuilds b, an index of one entry per msgid (schema 7 and
// before), as runs.
func msgidRuns(tx *bolt.Tx) error {
	old := tx.Bucket(bucketByMsgid)
	if old == nil {
		return nil
	}
	type run struct{ first, last, owner []byte }
	var runs []run
	if err := old.ForEach(func(k, v []byte) error {
		if n := len(runs); n > 0 && bytes.Equal(runs[n-1].owner, v) {
			if next, ok := protocol.MsgidAfter(string(runs[n-1].last)); ok && next == string(k) {
				runs[n-1].last = bytes.Clone(k)
				return nil
			}
		}
		runs = append(runs, run{bytes.Clone(k), bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketByMsgid); err != nil {
		return err
	}
	b, err := tx.CreateBucket(bucketByMsgid)
	if err != nil {
		return err
	}
	b.FillPercent = 0.9
	for _, r := range runs {
		v := r.owner
		if !bytes.Equal(r.first, r.last) {
			v = runValue(r.owner, r.first, r.last)
		}
		if err := b.Put(r.first, v); err != nil {
			return err
		}
	}
	return nil
}
