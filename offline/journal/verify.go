package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"

	bolt "go.etcd.io/bbolt"
)

// Verify reads the whole file: bbolt's page consistency, then every
// record (it must decode and its personal fields authenticate under the
// key) and every index entry (it must point at the record that names it).
// It is the check to run after a crash, a disk error or a restore, and is
// as slow as reading everything; it returns every problem found, each
// wrapping ErrCorrupt.
func (j *Journal) Verify(ctx context.Context) error {
	var problems []error
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
	}
	err := j.read(ctx, "verify", func(t *tx) error {
		btx := t.settlements.Tx()
		for err := range btx.Check() {
			report("bbolt: %v", err)
		}
		return t.verifyRecords(report)
	})
	if err != nil {
		return err
	}
	return errors.Join(problems...)
}

func (t *tx) verifyRecords(report func(string, ...any)) error {
	type stored struct {
		seq   uint64
		state string
		slot  []byte // its state index key
	}
	records := map[string]stored{}
	endedN := 0
	var err error
	if err = t.eachRecord(func(k, v []byte, end uint64) error {
		id, ended := string(k), end != 0
		if ended {
			endedN++
		}
		if v == nil {
			report("settlement %s: its record is missing from the ended records", id)
			return nil
		}
		s, seq, err := t.j.decode(id, v)
		if err != nil {
			report("%v", err)
			return nil
		}
		if _, twice := records[id]; twice {
			report("settlement %s: a record under way and one ended", id)
		}
		if t.ended != nil && s.State.Terminal() != ended {
			report("settlement %s: its record, %s, is kept with the settlements %s", id, s.State, map[bool]string{true: "ended", false: "under way"}[ended])
		}
		if n, ok := seqOfID(k); !ok || n != seq {
			// What leads to an ended record is the sequence its id carries.
			report("settlement %s: its id does not carry its sequence %d", id, seq)
		}
		slot := t.stateSlot(s.State, seq, end)
		records[id] = stored{seq, string(s.State), slot}
		expect := func(b *bolt.Bucket, name string, key []byte) {
			got := b.Get(key)
			if b == t.byMsgid {
				got = t.msgids().owner(key)
			}
			if b == t.byState {
				got = stateValueID(got)
			}
			if b == t.bySeq {
				got = t.seqID(got)
			}
			if !bytes.Equal(got, k) {
				report("settlement %s: %s index holds %q", id, name, got)
			}
		}
		expect(t.byKey, "idempotency key", []byte(s.IdempotencyKey))
		expect(t.bySeq, "sequence", encodeSeq(seq))
		expect(t.byState, "state "+string(s.State), slot)
		for infno, m := range s.Msgids {
			expect(t.byMsgid, "msgid of "+infno, []byte(m))
		}
		return nil
	}); err != nil {
		return err
	}
	// And no ended record that no sequence leads to (two leading to one
	// find a record naming another id, which decode reports).
	if t.ended != nil {
		if n := t.ended.Stats().KeyN; n != endedN {
			report("%d ended records, %d settlements leading to them", n, endedN)
		}
	}
	// The other way round: every index entry must lead to a record that
	// agrees with it. A stale one would make List or a lookup wrong long
	// after the write that left it.
	entry := func(name string, k, v []byte) (stored, bool) {
		r, ok := records[string(v)]
		if !ok {
			report("%s index entry %q points at missing settlement %q", name, k, v)
		}
		return r, ok
	}
	if err := t.byKey.ForEach(func(k, v []byte) error {
		entry("idempotency key", k, v)
		return nil
	}); err != nil {
		return err
	}
	if err := t.byMsgid.ForEach(func(k, v []byte) error {
		if owner := runOwner(v); string(owner) != noSettlement {
			entry("msgid", k, owner)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := t.bySeq.ForEach(func(k, v []byte) error {
		seq, err := decodeSeq(k)
		if r, ok := entry("sequence", k, t.seqID(v)); ok && (err != nil || r.seq != seq) {
			report("sequence index entry %x points at %s, whose sequence is %d", k, v, r.seq)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := t.byState.ForEach(func(k, v []byte) error {
		r, ok := entry("state", k, stateValueID(v))
		if ok && !bytes.Equal(k, r.slot) {
			report("stale state index entry %q for %s, which is %s", k, v, r.state)
		}
		return nil
	}); err != nil {
		return err
	}
	// The counts the status shows must be the index's.
	indexed, err := countIndex(t.byState)
	if err != nil {
		return err
	}
	counted, err := t.readStateCounts()
	if err != nil {
		report("%v", err)
		return nil
	}
	if !maps.Equal(indexed, counted) {
		report("the state counts %v are not the state index's %v", counted, indexed)
	}
	return nil
}
