package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
)

// Value returns the named value, or agent.ErrNotFound. Named values hold
// what the agent must remember across restarts besides settlements: the
// last policy fetched from the platform, the last reconciliation report.
func (j *Journal) Value(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := j.read(ctx, "read value "+name, func(t *tx) error {
		v := t.values().Get([]byte(name))
		if v == nil {
			return fmt.Errorf("value %s: %w", name, agent.ErrNotFound)
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// SetValue stores the named value durably.
func (j *Journal) SetValue(ctx context.Context, name string, value []byte) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("set value: %w: name must be 1 to 64 bytes", agent.ErrInvalid)
	}
	return j.write(ctx, "set value "+name, func(t *tx) error {
		return t.values().Put([]byte(name), value)
	})
}

// Advance implements agent.CounterStore: it records counter for the
// credential serial if it is above the highest seen, durably, and refuses
// it as replayed otherwise.
func (j *Journal) Advance(ctx context.Context, serial string, counter uint64) error {
	if serial == "" || len(serial) > 64 {
		return fmt.Errorf("advance counter: %w: serial must be 1 to 64 bytes", agent.ErrInvalid)
	}
	var replayed bool
	err := j.write(ctx, "advance counter", func(t *tx) error {
		b := t.btx.Bucket(bucketCounters)
		k := j.counterKey(serial)
		if old := b.Get(k); len(old) == 8 && binary.BigEndian.Uint64(old) >= counter {
			replayed = true
			return nil
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], counter)
		return b.Put(k, v[:])
	})
	if err != nil {
		return err
	}
	if replayed {
		return fmt.Errorf("counter %d of credential %s: %w", counter, serial, agent.ErrReplayed)
	}
	return nil
}

func (t *tx) values() *bolt.Bucket { return t.btx.Bucket(bucketValues) }

// CountStates is the number of settlements in each state, kept with the
// records (counts.go): the status endpoint's figures cost the same however
// long the journal grows.
func (j *Journal) CountStates(ctx context.Context) (map[agent.State]int, error) {
	var out map[agent.State]int
	err := j.read(ctx, "count states", func(t *tx) (err error) {
		out, err = t.readStateCounts()
		return err
	})
	return out, err
}
