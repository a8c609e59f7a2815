package journal_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

func TestNamedValuesSurviveReopen(t *testing.T) {
	j := journaltest.MustOpen(t)
	ctx := context.Background()
	if _, err := j.Value(ctx, "policy"); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("missing value: %v", err)
	}
	if err := j.SetValue(ctx, "policy", []byte(`{"version":"1"}`)); err != nil {
		t.Fatal(err)
	}
	j.MustReopen()
	v, err := j.Value(ctx, "policy")
	if err != nil || string(v) != `{"version":"1"}` {
		t.Fatalf("after reopen: %q %v", v, err)
	}
	if err := j.SetValue(ctx, "", nil); !errors.Is(err, agent.ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
}

func TestCountersOnlyGoUpAndSurviveReopen(t *testing.T) {
	j := journaltest.MustOpen(t)
	ctx := context.Background()
	for _, c := range []struct {
		counter  uint64
		replayed bool
	}{{1, false}, {5, false}, {5, true}, {4, true}, {6, false}} {
		err := j.Advance(ctx, "S1", c.counter)
		if got := errors.Is(err, agent.ErrReplayed); got != c.replayed || (err != nil && !got) {
			t.Fatalf("Advance(%d) = %v; replayed want %v", c.counter, err, c.replayed)
		}
	}
	j.MustReopen()
	if err := j.Advance(ctx, "S1", 6); !errors.Is(err, agent.ErrReplayed) {
		t.Fatalf("after reopen the highest counter was forgotten: %v", err)
	}
	if err := j.Advance(ctx, "S2", 1); err != nil {
		t.Fatalf("another serial: %v", err)
	}
}

func TestConcurrentScansOfOneCodeAcceptOnce(t *testing.T) {
	j := journaltest.MustOpen(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.Advance(context.Background(), "S1", 9); err == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 1 {
		t.Fatalf("%d of 8 concurrent uses of one code accepted; want 1", accepted)
	}
}

func TestPseudonymIsStableKeyedAndOneWay(t *testing.T) {
	a := journaltest.MustOpen(t)
	b := journaltest.MustOpen(t) // another key
	id := "11010519491231002X"
	p := a.Pseudonym(id)
	if p != a.Pseudonym(id) || len(p) != 32 {
		t.Fatalf("pseudonym %q not stable", p)
	}
	if p == b.Pseudonym(id) {
		t.Fatal("two journals with different keys give the same pseudonym")
	}
	if strings.Contains(p, "1949") || p == a.Pseudonym("11010519491231003X") {
		t.Fatal("pseudonym leaks or collides")
	}
}
