package journal

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/emmansun/gmsm/sm3"
	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
)

// MaxKeyLen bounds an idempotency key. HIS keys are UUIDs or visit numbers
// with a suffix; anything much longer is a client bug, not a key.
const MaxKeyLen = 256

// record is how a settlement is stored: its public fields as JSON, and its
// personal fields sealed with the settlement id as associated data, so a
// sealed blob moved to another record does not open.
type record struct {
	Seq        uint64          `json:"seq"`
	Settlement json.RawMessage `json:"settlement"`
	Personal   []byte          `json:"personal"`
	// Auth 1: the sealing of the personal fields also authenticates the
	// public fields (their SM3 hash is in the associated data), so a
	// changed amount or state is caught like a changed name. Records
	// written before schema v3 have none until the v3 re-sealing.
	Auth int `json:"auth,omitempty"`
}

// recordAAD is the associated data that seals a record's personal fields
// to its id and its public fields.
func recordAAD(id string, public []byte) []byte {
	sum := sm3.Sum(public)
	return append(append([]byte(id), 0), sum[:]...)
}

// tx is one bbolt transaction seen through the journal's layout.
type tx struct {
	j                                                 *Journal
	btx                                               *bolt.Tx
	meta, settlements, byKey, byMsgid, bySeq, byState *bolt.Bucket
	stateCounts                                       *bolt.Bucket
	ended                                             *bolt.Bucket // the ended records (records.go)
	// callerErr is the error of the caller's own function, which the
	// journal passes through rather than reporting as a storage failure.
	callerErr error
}

// msgids is the msgid index, by runs (msgidindex.go).
func (t *tx) msgids() msgidIndex { return msgidIndex{t.byMsgid} }

func (j *Journal) wrap(btx *bolt.Tx) *tx {
	t := &tx{
		j:           j,
		btx:         btx,
		meta:        btx.Bucket(bucketMeta),
		settlements: btx.Bucket(bucketSettlements),
		byKey:       btx.Bucket(bucketByKey),
		byMsgid:     btx.Bucket(bucketByMsgid),
		bySeq:       btx.Bucket(bucketBySeq),
		byState:     btx.Bucket(bucketByState),
		stateCounts: btx.Bucket(bucketStateCounts),
		ended:       btx.Bucket(bucketEndedRecords),
	}
	// Records, the sequence index, the msgids (institution, time, slot,
	// counter: each after the last) and the queue (state, then sequence)
	// are keyed in the order they are made, and so are most idempotency
	// keys (a HIS's visit or bill numbers): pages filled to 90% rather
	// than bbolt's half keep the file near the size of what it holds. A
	// record grows by half from its acceptance to its end; kept in place,
	// it would split its page, each half half empty for good. It moves
	// instead to the ended records (records.go) with the write that ends
	// it, where it no longer grows.
	if btx.Writable() {
		for _, b := range []*bolt.Bucket{t.bySeq, t.byMsgid, t.byState, t.byKey, t.settlements, t.ended} {
			if b != nil {
				b.FillPercent = 0.9
			}
		}
		if t.ended == nil && t.settlements != nil {
			t.settlements.FillPercent = 0.7 // a file before schema 10, migrating
		}
	}
	return t
}

func (j *Journal) encode(s *agent.Settlement, seq uint64) ([]byte, error) {
	personal := encodePersonal(s.Personal)
	public, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%w: encode settlement: %w", agent.ErrInvalid, err)
	}
	sealed, err := j.sealer.Seal(personal, recordAAD(s.ID, public))
	if err != nil {
		return nil, err
	}
	return compress(appendRecord(make([]byte, 0, len(public)+len(sealed)*4/3+64), seq, public, sealed)), nil
}

// The record's JSON envelope, written and read without a second pass of
// the JSON machinery over the settlement it holds: the same bytes as
// json.Marshal of record{Seq, Settlement, Personal, Auth: 1}.
const (
	recordHead     = `{"seq":`
	recordPublic   = `,"settlement":`
	recordPersonal = `,"personal":"`
	recordTail     = `","auth":1}`
)

func appendRecord(b []byte, seq uint64, public, sealed []byte) []byte {
	b = append(b, recordHead...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, recordPublic...)
	b = append(b, public...)
	b = append(b, recordPersonal...)
	b = base64.StdEncoding.AppendEncode(b, sealed)
	return append(b, recordTail...)
}

// splitRecord reads an envelope appendRecord wrote; ok is false for any
// other (an older record), which json.Unmarshal reads instead. What it
// returns is checked as every record is: the settlement's JSON by its
// decoding, and both parts by the sealing, which authenticates them.
func splitRecord(data []byte) (rec record, ok bool) {
	if !bytes.HasPrefix(data, []byte(recordHead)) || !bytes.HasSuffix(data, []byte(recordTail)) {
		return rec, false
	}
	rest := data[len(recordHead) : len(data)-len(recordTail)]
	i := bytes.IndexByte(rest, ',')
	if i <= 0 {
		return rec, false
	}
	seq, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil || !bytes.HasPrefix(rest[i:], []byte(recordPublic)) {
		return rec, false
	}
	rest = rest[i+len(recordPublic):]
	j := bytes.LastIndex(rest, []byte(recordPersonal))
	if j < 0 {
		return rec, false
	}
	sealed, err := base64.StdEncoding.AppendDecode(nil, rest[j+len(recordPersonal):])
	if err != nil {
		return rec, false
	}
	return record{Seq: seq, Settlement: rest[:j], Personal: sealed, Auth: 1}, true
}

func (j *Journal) decode(id string, data []byte) (*agent.Settlement, uint64, error) {
	return j.decodeRecord(id, data, !j.authenticated)
}

// decodeRecord reads a stored record; legacy admits a record written
// before records were authenticated (the v3 re-sealing, the archive).
func (j *Journal) decodeRecord(id string, data []byte, legacy bool) (*agent.Settlement, uint64, error) {
	data, err := decompress(data)
	if err != nil {
		return nil, 0, fmt.Errorf("settlement %s: %w: %w", id, ErrCorrupt, err)
	}
	rec, ok := splitRecord(data)
	if !ok {
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, 0, fmt.Errorf("settlement %s: %w: %w", id, ErrCorrupt, err)
		}
	}
	aad := []byte(id)
	switch {
	case rec.Auth == 1:
		aad = recordAAD(id, rec.Settlement)
	case !legacy:
		return nil, 0, fmt.Errorf("settlement %s: %w: the record is not authenticated", id, ErrCorrupt)
	}
	s := new(agent.Settlement)
	if err := json.Unmarshal(rec.Settlement, s); err != nil || s.ID != id {
		return nil, 0, fmt.Errorf("settlement %s: %w: the record is damaged or names another id", id, ErrCorrupt)
	}
	personal, err := j.sealer.Open(rec.Personal, aad)
	if err != nil {
		return nil, 0, fmt.Errorf("settlement %s: %w: the record was changed outside medterm or damaged: %w", id, ErrCorrupt, err)
	}
	if err := decodePersonal(personal, &s.Personal); err != nil {
		return nil, 0, fmt.Errorf("settlement %s: personal fields: %w: %w", id, ErrCorrupt, err)
	}
	return s, rec.Seq, nil
}

// load reads one settlement, with its sequence number.
func (t *tx) load(id string) (*agent.Settlement, uint64, error) {
	data := t.record([]byte(id))
	if data == nil {
		return nil, 0, fmt.Errorf("settlement %s: %w", id, agent.ErrNotFound)
	}
	return t.j.decode(id, data)
}

// put stores s and keeps the indexes in step; old is what was stored
// before, nil for a new settlement.
func (t *tx) put(s *agent.Settlement, seq uint64, old *agent.Settlement) error {
	data, err := t.j.encode(s, seq)
	if err != nil {
		return err
	}
	id := []byte(s.ID)
	// Msgids set by the caller rather than allocated here are indexed
	// too, and one already owned by another settlement is refused: a msgid
	// names one request, and the platform would take the second use for a
	// replay of the first.
	for _, m := range s.DurableIDs() {
		switch owner := t.msgids().owner([]byte(m)); {
		case owner == nil:
			if err := t.msgids().add([]byte(m), id); err != nil {
				return err
			}
		case !bytes.Equal(owner, id):
			return fmt.Errorf("%w: id %s was allocated for %q, not this settlement", agent.ErrInvalid, m, owner)
		}
	}
	oldEnd, end, err := t.putRecord(id, seq, data, s.State)
	if err != nil {
		return err
	}
	if old == nil {
		if err := t.byKey.Put([]byte(s.IdempotencyKey), id); err != nil {
			return err
		}
		if err := t.countState(s.State, 1); err != nil {
			return err
		}
	} else if old.State != s.State {
		if err := t.byState.Delete(t.stateSlot(old.State, seq, oldEnd)); err != nil {
			return err
		}
		if err := t.countState(old.State, -1); err != nil {
			return err
		}
		if err := t.countState(s.State, 1); err != nil {
			return err
		}
	}
	// The queue entry changes with the state and with the next try. A
	// settlement at its end waits in no queue: its value is its bare id,
	// a sixth of an entry, in the bucket that holds every settlement kept.
	if s.State.Terminal() {
		return t.byState.Put(t.stateSlot(s.State, seq, end), id)
	}
	return t.byState.Put(t.stateSlot(s.State, seq, end), encodeQueued(s))
}

func stateKey(s agent.State, seq uint64) []byte {
	k := append([]byte(s), 0)
	return append(k, encodeSeq(seq)...)
}

// errExists stops a write transaction that found the key already stored,
// so that it rolls back instead of committing (and syncing) nothing.
var errExists = errors.New("idempotency key already stored")

// Accept stores s as a new settlement; see agent.Journal. The settlement
// stored, and returned, is a copy of s: prepare works on the copy, so that
// if anything fails the caller's s is unchanged. On success s.ID is set to
// the new id. A zero CreatedAt or UpdatedAt is set from the journal's
// clock and an empty State is StateAccepted.
func (j *Journal) Accept(ctx context.Context, s *agent.Settlement, prepare func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, bool, error) {
	switch {
	case s == nil:
		return nil, false, fmt.Errorf("accept: %w: no settlement", agent.ErrInvalid)
	case s.IdempotencyKey == "":
		return nil, false, fmt.Errorf("accept: %w: no idempotency key", agent.ErrInvalid)
	case len(s.IdempotencyKey) > MaxKeyLen:
		return nil, false, fmt.Errorf("accept: %w: idempotency key longer than %d bytes", agent.ErrInvalid, MaxKeyLen)
	}
	// A repeated request is answered from a read transaction: most
	// retries find their key, and need no write and no sync.
	if stored, err := j.byKey(ctx, "accept", s); stored != nil || err != nil {
		return stored, false, err
	}
	var stored *agent.Settlement
	err := j.write(ctx, "accept", func(t *tx) error {
		if found, err := t.existing(s); found != nil || err != nil {
			stored = found
			if err == nil {
				err = errExists
			}
			return err
		}
		c, err := clone(s)
		if err != nil {
			return err
		}
		seq, err := t.settlements.NextSequence()
		if err != nil {
			return err
		}
		c.ID = fmt.Sprintf("%s-%08d", j.opts.IDPrefix, seq)
		now := j.opts.Clock.Now()
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		if c.State == "" {
			c.State = agent.StateAccepted
		}
		if prepare != nil {
			if err := t.call(c, prepare); err != nil {
				return err
			}
		}
		stored = c
		return t.put(c, seq, nil)
	})
	switch {
	case errors.Is(err, errExists):
		return stored, false, nil
	case err != nil:
		return nil, false, err
	}
	s.ID = stored.ID
	return stored, true, nil
}

// byKey returns the settlement already stored under s's idempotency key,
// or nil.
func (j *Journal) byKey(ctx context.Context, op string, s *agent.Settlement) (*agent.Settlement, error) {
	var found *agent.Settlement
	err := j.read(ctx, op, func(t *tx) (err error) {
		found, err = t.existing(s)
		return err
	})
	return found, err
}

// existing returns the settlement stored under s's key, nil if none, or
// ErrIdempotencyConflict if it is another request's.
func (t *tx) existing(s *agent.Settlement) (*agent.Settlement, error) {
	id := t.byKey.Get([]byte(s.IdempotencyKey))
	if id == nil {
		return nil, nil
	}
	stored, _, err := t.load(string(id))
	if err != nil {
		return nil, err
	}
	if stored.Fingerprint != s.Fingerprint && !slices.Contains(s.EarlierFingerprints, stored.Fingerprint) {
		return nil, fmt.Errorf("%w (stored as settlement %s)", agent.ErrIdempotencyConflict, stored.ID)
	}
	return stored, nil
}

// call runs the caller's fn on s with an allocator valid for this
// transaction only, and checks that fn left the settlement's identity
// alone.
func (t *tx) call(s *agent.Settlement, fn func(*agent.Settlement, agent.MsgidAllocator) error) error {
	id, key, fp := s.ID, s.IdempotencyKey, s.Fingerprint
	a := &allocator{t: t, owner: s.ID}
	err := fn(s, a)
	a.done = true
	if err != nil {
		t.callerErr = err
		return err
	}
	switch {
	case s.ID != id, s.IdempotencyKey != key, s.Fingerprint != fp:
		return fmt.Errorf("%w: a settlement's id, idempotency key and fingerprint never change", agent.ErrInvalid)
	case s.State == "":
		return fmt.Errorf("%w: settlement %s left without a state", agent.ErrInvalid, id)
	}
	return nil
}

// Update applies fn to a stored settlement; see agent.Journal.
func (j *Journal) Update(ctx context.Context, id string, fn func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, error) {
	if fn == nil {
		return nil, fmt.Errorf("update %s: %w: no update function", id, agent.ErrInvalid)
	}
	var out *agent.Settlement
	err := j.write(ctx, "update "+id, func(t *tx) error {
		cur, seq, err := t.load(id)
		if err != nil {
			return err
		}
		// old needs only the fields put compares; fn may change cur's
		// maps and slices in place.
		old := &agent.Settlement{State: cur.State}
		if err := t.call(cur, fn); err != nil {
			return err
		}
		out = cur
		return t.put(cur, seq, old)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StoredSize is the bytes one settlement's record takes in the file,
// compressed and sealed, without the pages and indexes around it.
func (j *Journal) StoredSize(ctx context.Context, id string) (int, error) {
	n := 0
	err := j.read(ctx, "size of "+id, func(t *tx) error {
		data := t.record([]byte(id))
		if data == nil {
			return fmt.Errorf("settlement %s: %w", id, agent.ErrNotFound)
		}
		n = len(data)
		return nil
	})
	return n, err
}

// Get returns one settlement; see agent.Journal.
func (j *Journal) Get(ctx context.Context, id string) (*agent.Settlement, error) {
	var s *agent.Settlement
	err := j.read(ctx, "get "+id, func(t *tx) (err error) {
		s, _, err = t.load(id)
		return err
	})
	return s, err
}

// ByKey returns the settlement stored under an idempotency key, or
// ErrNotFound.
func (j *Journal) ByKey(ctx context.Context, key string) (*agent.Settlement, error) {
	var s *agent.Settlement
	err := j.read(ctx, "look up idempotency key", func(t *tx) (err error) {
		id := t.byKey.Get([]byte(key))
		if id == nil {
			return fmt.Errorf("no settlement under this idempotency key: %w", agent.ErrNotFound)
		}
		s, _, err = t.load(string(id))
		return err
	})
	return s, err
}

// List returns the settlements in f's states (all if none), newest first,
// at most f.Limit of them (all if zero).
func (j *Journal) List(ctx context.Context, f agent.ListFilter) ([]*agent.Settlement, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list: %w: negative limit %d", agent.ErrInvalid, f.Limit)
	}
	// Records are copied out and decoded after the read transaction ends:
	// a long one holds back bbolt's remapping, and with it the writers.
	type raw struct {
		id   string
		data []byte
	}
	var found []raw
	err := j.read(ctx, "list", func(t *tx) error {
		var ids []string
		if len(f.States) == 0 {
			ids = t.newest(f.Limit)
		} else {
			ids = t.newestIn(f.States, f.Limit)
		}
		found = make([]raw, 0, len(ids))
		for _, id := range ids {
			data := t.record([]byte(id))
			if data == nil {
				return fmt.Errorf("%w: index names missing settlement %s", ErrCorrupt, id)
			}
			found = append(found, raw{id, bytes.Clone(data)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*agent.Settlement, 0, len(found))
	for _, r := range found {
		s, _, err := j.decode(r.id, r.data)
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// newest lists ids by sequence, newest first.
func (t *tx) newest(limit int) []string {
	var ids []string
	c := t.bySeq.Cursor()
	for k, v := c.Last(); k != nil && (limit == 0 || len(ids) < limit); k, v = c.Prev() {
		ids = append(ids, string(t.seqID(v)))
	}
	return ids
}

// newestIn walks the state index backwards from the end of each state's
// range and merges the ranges by sequence, so listing the few deferred or
// in-doubt bills does not read every settled one. A range of settlements
// at their end is in the order they ended in: with a limit, it gives the
// latest to end.
func (t *tx) newestIn(states []agent.State, limit int) []string {
	type hit struct {
		seq uint64
		id  string
	}
	var hits []hit
	c := t.byState.Cursor()
	seen := map[agent.State]bool{}
	for _, st := range states {
		if seen[st] {
			continue
		}
		seen[st] = true
		prefix := append([]byte(st), 0)
		end := append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		var k, v []byte
		if k, _ = c.Seek(end); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for n := 0; k != nil && bytes.HasPrefix(k, prefix) && (limit == 0 || n < limit); k, v = c.Prev() {
			seq, err := decodeSeq(k[len(prefix):])
			id := stateValueID(v)
			if st.Terminal() { // keyed by their end: the latest to end
				var ok bool
				if seq, ok = seqOfID(id); !ok {
					err = errors.New("no sequence in the id")
				}
			}
			if err != nil {
				continue // Verify reports malformed index keys
			}
			hits = append(hits, hit{seq, string(id)})
			n++
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(b.seq, a.seq) })
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	return ids
}

// clone deep-copies s through its JSON form (Personal, which JSON skips,
// is plain strings and copied by value).
func clone(s *agent.Settlement) (*agent.Settlement, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%w: encode settlement: %w", agent.ErrInvalid, err)
	}
	var c agent.Settlement
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: decode settlement: %w", agent.ErrInvalid, err)
	}
	c.Personal = s.Personal
	return &c, nil
}
