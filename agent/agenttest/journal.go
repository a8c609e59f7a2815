// Package agenttest holds fakes of the core's ports for unit tests: an
// in-memory journal with scriptable failures and a scriptable platform.
package agenttest

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Journal is an in-memory agent.Journal. Records are deep-copied in and
// out, as a real store would. FailWrites makes every write fail, like a
// full disk.
type Journal struct {
	Clock       clock.Clock
	Institution string
	Slot        int

	mu         sync.Mutex
	recs       map[string][]byte
	personal   map[string]agent.Personal
	keys       map[string]string
	values     map[string][]byte
	seq        int
	msgclock   protocol.MsgidClock
	Writes     int   // durable writes so far
	FailWrites error // if set, every write fails with it
	// FailUpdates, if set, makes every update of a stored settlement fail
	// with it, while new ones are still accepted: a disk that fills
	// between a bill's first write and its next.
	FailUpdates error
}

var _ agent.Journal = (*Journal)(nil)

// NewJournal returns an empty journal.
func NewJournal(c clock.Clock) *Journal {
	return &Journal{Clock: c, Institution: "H44190000001", Slot: 1,
		recs: map[string][]byte{}, personal: map[string]agent.Personal{}, keys: map[string]string{}, values: map[string][]byte{}}
}

type alloc struct{ j *Journal }

func (a alloc) Next() (string, error) {
	id, next := a.j.msgclock.Next(a.j.Institution, a.j.Slot, a.j.Clock.Now())
	a.j.msgclock = next
	return id, nil
}

func (j *Journal) put(s *agent.Settlement) {
	b, _ := json.Marshal(s)
	j.recs[s.ID] = b
	j.personal[s.ID] = s.Personal
	j.Writes++
}

func (j *Journal) get(id string) (*agent.Settlement, bool) {
	b, ok := j.recs[id]
	if !ok {
		return nil, false
	}
	var s agent.Settlement
	_ = json.Unmarshal(b, &s)
	s.Personal = j.personal[id]
	return &s, true
}

func (j *Journal) Accept(_ context.Context, s *agent.Settlement, prepare func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if id, ok := j.keys[s.IdempotencyKey]; ok {
		st, _ := j.get(id)
		if st.Fingerprint != s.Fingerprint && !slices.Contains(s.EarlierFingerprints, st.Fingerprint) {
			return nil, false, agent.ErrIdempotencyConflict
		}
		return st, false, nil
	}
	if j.FailWrites != nil {
		return nil, false, fmt.Errorf("%w: %w: %w", agent.ErrJournal, agent.ErrNotStored, j.FailWrites)
	}
	saved := j.msgclock
	cp := *s
	j.seq++
	cp.ID = fmt.Sprintf("T1-%08d", j.seq)
	if err := prepare(&cp, alloc{j}); err != nil {
		j.msgclock = saved
		return nil, false, err
	}
	j.keys[s.IdempotencyKey] = cp.ID
	j.put(&cp)
	st, _ := j.get(cp.ID)
	return st, true, nil
}

func (j *Journal) Update(_ context.Context, id string, fn func(*agent.Settlement, agent.MsgidAllocator) error) (*agent.Settlement, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	st, ok := j.get(id)
	if !ok {
		return nil, agent.ErrNotFound
	}
	if err := cmp.Or(j.FailWrites, j.FailUpdates); err != nil {
		return nil, fmt.Errorf("%w: %w", agent.ErrJournal, err)
	}
	saved := j.msgclock
	if err := fn(st, alloc{j}); err != nil {
		j.msgclock = saved
		return nil, err
	}
	j.put(st)
	out, _ := j.get(id)
	return out, nil
}

func (j *Journal) Get(_ context.Context, id string) (*agent.Settlement, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	st, ok := j.get(id)
	if !ok {
		return nil, fmt.Errorf("settlement %s: %w", id, agent.ErrNotFound)
	}
	return st, nil
}

func (j *Journal) ByKey(_ context.Context, key string) (*agent.Settlement, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	id, ok := j.keys[key]
	if !ok {
		return nil, fmt.Errorf("key %s: %w", key, agent.ErrNotFound)
	}
	st, _ := j.get(id)
	return st, nil
}

func (j *Journal) List(_ context.Context, f agent.ListFilter) ([]*agent.Settlement, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*agent.Settlement
	for id := range j.recs {
		st, _ := j.get(id)
		if len(f.States) == 0 || slices.Contains(f.States, st.State) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *agent.Settlement) int { return strings.Compare(b.ID, a.ID) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (j *Journal) AllocateMsgid(context.Context) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.FailWrites != nil {
		return "", fmt.Errorf("%w: %w", agent.ErrJournal, j.FailWrites)
	}
	j.Writes++
	return alloc{j}.Next()
}

func (j *Journal) Pseudonym(value string) string { return "p-" + fmt.Sprintf("%x", []byte(value)) }

// Fingerprint is a digest keyed with a fixed test key: the fake keeps
// nothing on disk, so only equality matters.
func (j *Journal) Fingerprint(request []byte) string {
	m := hmac.New(sha256.New, []byte("agenttest fingerprint key"))
	m.Write(request)
	return "fake:" + hex.EncodeToString(m.Sum(nil))
}

func (j *Journal) Value(_ context.Context, name string) ([]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	v, ok := j.values[name]
	if !ok {
		return nil, agent.ErrNotFound
	}
	return v, nil
}

func (j *Journal) SetValue(_ context.Context, name string, value []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.FailWrites != nil {
		return fmt.Errorf("%w: %w", agent.ErrJournal, j.FailWrites)
	}
	j.values[name] = value
	return nil
}

// Epoch is a fixed instant for tests: 2026-11-23 09:00 CST.
var Epoch = time.Date(2026, 11, 23, 9, 0, 0, 0, protocol.CST)
