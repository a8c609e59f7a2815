package credtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/credential/credtest"
)

func TestCountersRefuseAnythingNotAboveTheHighest(t *testing.T) {
	ctx := context.Background()
	var c credtest.Counters
	steps := []struct {
		serial  string
		counter uint64
		replay  bool
	}{
		{"a", 5, false},
		{"a", 5, true},
		{"a", 4, true},
		{"b", 1, false},
		{"a", 6, false},
	}
	for _, s := range steps {
		err := c.Advance(ctx, s.serial, s.counter)
		if got := errors.Is(err, credential.ErrReplayed); got != s.replay || (err != nil && !got) {
			t.Errorf("Advance(%s, %d) = %v, want replay %v", s.serial, s.counter, err, s.replay)
		}
	}
	if h, _ := c.Highest("a"); h != 6 {
		t.Errorf("highest of a = %d, want 6", h)
	}
	if c.Calls() != len(steps) {
		t.Errorf("Calls = %d, want %d", c.Calls(), len(steps))
	}
}

func TestCountersReturnTheScriptedFailureAndRecordNothing(t *testing.T) {
	boom := errors.New("disk full")
	c := credtest.Counters{Fail: func(string, uint64) error { return boom }}
	if err := c.Advance(context.Background(), "a", 1); !errors.Is(err, boom) {
		t.Fatalf("Advance = %v, want the scripted failure", err)
	}
	if _, seen := c.Highest("a"); seen {
		t.Error("a failed Advance recorded its counter")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	c.Fail = nil
	if err := c.Advance(cancelled, "a", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Advance with a cancelled context = %v", err)
	}
}
