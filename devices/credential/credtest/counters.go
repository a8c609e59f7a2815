// Package credtest holds test helpers for code verification: an in-memory
// counter store whose failures a test can script.
package credtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/seed-a859fada/medterm/devices/credential"
)

// Counters is an in-memory credential.CounterStore. Fail, when set, is asked
// before each Advance and its error returned as the store's own (a full
// disk, a closed journal).
type Counters struct {
	Fail func(serial string, counter uint64) error

	mu      sync.Mutex
	highest map[string]uint64
	calls   int
}

var _ credential.CounterStore = (*Counters)(nil)

// Advance records counter for serial if it is above the highest seen.
func (c *Counters) Advance(ctx context.Context, serial string, counter uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.Fail != nil {
		if err := c.Fail(serial, counter); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if high, seen := c.highest[serial]; seen && counter <= high {
		return fmt.Errorf("serial %s counter %d, highest %d: %w", serial, counter, high, credential.ErrReplayed)
	}
	if c.highest == nil {
		c.highest = make(map[string]uint64)
	}
	c.highest[serial] = counter
	return nil
}

// Highest is the highest counter recorded for serial, and whether any was.
func (c *Counters) Highest(serial string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.highest[serial]
	return h, ok
}

// Calls is how many times Advance was called, refused or not: a test
// proves with it that a rejected code never reached the store.
func (c *Counters) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}
