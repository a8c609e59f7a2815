package journal

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// allocator hands out msgids inside one write transaction. The allocation
// state (protocol.MsgidClock) lives in meta and is rewritten with every
// msgid, so a msgid exists exactly when the transaction that made it
// commits: one that rolls back leaves the state as it was, and its msgids,
// never durable, were never sent either.
//
// It is not safe for concurrent use, like the bbolt transaction it wraps.
type allocator struct {
	t     *tx
	owner string // the settlement's id, or noSettlement
	done  bool
}

var _ agent.MsgidAllocator = (*allocator)(nil)

// noSettlement owns the msgids allocated outside any settlement. No
// settlement id can be "-": ids are a prefix, '-' and a number.
const noSettlement = "-"

func (a *allocator) Next() (string, error) {
	if a.done {
		return "", ErrAllocatorDone
	}
	meta := a.t.meta
	var c protocol.MsgidClock
	if raw := meta.Get(keyMsgidClock); raw != nil {
		if err := json.Unmarshal(raw, &c); err != nil {
			return "", fmt.Errorf("allocate msgid: %w: msgid clock: %w", ErrCorrupt, err)
		}
	}
	o := a.t.j.opts
	now := o.Clock.Now()
	for {
		var id string
		id, c = c.Next(o.Institution, o.Slot, now)
		// The clock alone already makes msgids unique; the index check
		// keeps them unique even if the clock state were ever lost (a
		// restored meta page), at the cost of one lookup.
		if a.t.msgids().owner([]byte(id)) != nil {
			continue
		}
		raw, err := json.Marshal(c)
		if err != nil {
			return "", fmt.Errorf("allocate msgid: %w", err)
		}
		if err := meta.Put(keyMsgidClock, raw); err != nil {
			return "", fmt.Errorf("allocate msgid: %w: %w", agent.ErrJournal, err)
		}
		if err := a.t.msgids().add([]byte(id), []byte(a.owner)); err != nil {
			return "", fmt.Errorf("allocate msgid: %w: %w", agent.ErrJournal, err)
		}
		return id, nil
	}
}

// AllocateMsgid durably allocates one msgid that belongs to no settlement
// (sign-in, reconciliation). It is recorded in the msgid index like every
// other, so no later allocation can ever reuse it.
func (j *Journal) AllocateMsgid(ctx context.Context) (string, error) {
	var id string
	err := j.write(ctx, "allocate msgid", func(t *tx) error {
		a := &allocator{t: t, owner: noSettlement}
		var err error
		id, err = a.Next()
		a.done = true
		return err
	})
	return id, err
}

// ByMsgid returns the settlement a msgid was allocated for: how a platform
// answer, a reconciliation difference or a reversal is traced back to its
// bill. It is ErrNotFound for a msgid this journal never allocated or
// allocated outside any settlement.
func (j *Journal) ByMsgid(ctx context.Context, msgid string) (*agent.Settlement, error) {
	var s *agent.Settlement
	err := j.read(ctx, "look up msgid "+msgid, func(t *tx) error {
		owner := t.msgids().owner([]byte(msgid))
		switch {
		case owner == nil:
			return fmt.Errorf("no msgid %s in this journal: %w", msgid, agent.ErrNotFound)
		case string(owner) == noSettlement:
			return fmt.Errorf("msgid %s belongs to no settlement: %w", msgid, agent.ErrNotFound)
		}
		var err error
		s, _, err = t.load(string(owner))
		return err
	})
	return s, err
}
