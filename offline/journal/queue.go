package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
)

// The state index's values (schema 6) are the settlement's queue entry,
// not only its id: the forwarder's pass over a long backlog and the
// backlog's totals at start read the index alone, never the records. A
// value starts with queueTag; a value without it is a bare id: that of a
// settlement at its end (State.Terminal), which no queue reads, or of a
// schema 5 file.
//
//	queueTag, uvarint len(id), id, uvarint len(patient ref), patient ref,
//	next try, amount in fen, deferred at (8 bytes each, big-endian;
//	times as Unix nanoseconds, 0 for none)
const queueTag = 0x01

func encodeQueued(s *agent.Settlement) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen16+len(s.ID)+len(s.PatientRef)+24)
	b = append(b, queueTag)
	b = binary.AppendUvarint(b, uint64(len(s.ID)))
	b = append(b, s.ID...)
	b = binary.AppendUvarint(b, uint64(len(s.PatientRef)))
	b = append(b, s.PatientRef...)
	b = binary.BigEndian.AppendUint64(b, unixNano(s.NextTry))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Bill.Total()))
	b = binary.BigEndian.AppendUint64(b, unixNano(s.DeferredAt))
	return b
}

// decodeQueued reads a state index value; ok is false for a bare id (or
// a damaged value, which Verify reports).
func decodeQueued(state agent.State, v []byte) (q agent.Queued, ok bool) {
	if len(v) == 0 || v[0] != queueTag {
		return q, false
	}
	r := v[1:]
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(r)
		if w <= 0 || uint64(len(r)-w) < n {
			return nil, false
		}
		f := r[w : w+int(n)]
		r = r[w+int(n):]
		return f, true
	}
	id, ok1 := field()
	ref, ok2 := field()
	if !ok1 || !ok2 || len(r) != 24 {
		return q, false
	}
	return agent.Queued{
		ID: string(id), State: state, PatientRef: string(ref),
		NextTry:    fromUnixNano(binary.BigEndian.Uint64(r[0:8])),
		Amount:     money.Fen(int64(binary.BigEndian.Uint64(r[8:16]))),
		DeferredAt: fromUnixNano(binary.BigEndian.Uint64(r[16:24])),
	}, true
}

// stateValueID is the settlement id a state index value names.
func stateValueID(v []byte) []byte {
	if q, ok := decodeQueued("", v); ok {
		return []byte(q.ID)
	}
	return v
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

func fromUnixNano(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// Queued lists the settlements in states, oldest first, from the state
// index, those accepted after the settlement after (all if ""), at most
// limit of them (all if 0); see agent.QueueReader.
func (j *Journal) Queued(ctx context.Context, states []agent.State, after string, limit int) ([]agent.Queued, error) {
	type hit struct {
		seq uint64
		q   agent.Queued
	}
	from := uint64(0)
	if after != "" {
		seq, ok := seqOfID([]byte(after))
		if !ok {
			return nil, fmt.Errorf("queue: %w: %q is not an id of this journal", agent.ErrInvalid, after)
		}
		from = seq + 1
	}
	var hits []hit
	err := j.read(ctx, "queue", func(t *tx) error {
		c := t.byState.Cursor()
		for _, st := range slices.Compact(slices.Clone(states)) {
			prefix := append([]byte(st), 0)
			n := 0
			for k, v := c.Seek(stateKey(st, from)); k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || n < limit); k, v = c.Next() {
				n++
				seq, err := decodeSeq(k[len(prefix):])
				if err != nil {
					continue // Verify reports malformed index keys
				}
				q, ok := decodeQueued(st, v)
				if !ok {
					s, _, err := t.load(string(v))
					if err != nil {
						return err
					}
					q = agent.QueueOf(s)
				}
				hits = append(hits, hit{seq, q})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmpUint(a.seq, b.seq) })
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]agent.Queued, len(hits))
	for i, h := range hits {
		out[i] = h.q
	}
	return out, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// queueEntries rewrites a schema 5 file's state index values, bare ids,
// as queue entries (schema 6).
func queueEntries(j *Journal, btx *bolt.Tx) error {
	idx, recs := btx.Bucket(bucketByState), btx.Bucket(bucketSettlements)
	if idx == nil || recs == nil {
		return nil
	}
	type entry struct{ k, v []byte }
	var rewrite []entry
	c := idx.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if _, ok := decodeQueued("", v); ok {
			continue
		}
		data := recs.Get(v)
		if data == nil {
			continue // Verify reports the stale entry
		}
		s, _, err := j.decodeRecord(string(v), data, true)
		if err != nil {
			return err
		}
		rewrite = append(rewrite, entry{bytes.Clone(k), encodeQueued(s)})
	}
	for _, e := range rewrite {
		if err := idx.Put(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}
