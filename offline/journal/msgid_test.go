package journal_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// allocate takes n msgids in one Update of s, in order.
func allocate(t *testing.T, j *journaltest.Journal, id string, n int) []string {
	t.Helper()
	var out []string
	_, err := j.Update(ctx, id, func(s *agent.Settlement, ids agent.MsgidAllocator) error {
		for i := range n {
			m, err := ids.Next()
			if err != nil {
				return err
			}
			out = append(out, m)
			s.Msgids[fmt.Sprint("x", i)] = m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func assertIncreasing(t *testing.T, msgids []string) {
	t.Helper()
	for i, m := range msgids {
		if err := protocol.ValidMsgid(m); err != nil {
			t.Fatal(err)
		}
		if i > 0 && m <= msgids[i-1] {
			t.Fatalf("msgid %d %s does not follow %s", i, m, msgids[i-1])
		}
	}
}

func TestMsgidNamesInstitutionTimeAndSlot(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := mustAccept(t, j, "his-1")
	m := s.Msgids["1101"]
	want := journaltest.Institution + journaltest.Start.In(protocol.CST).Format("20060102150405") + "07" + "00"
	if m != want {
		t.Errorf("first msgid %s, want %s", m, want)
	}
	owner, err := j.ByMsgid(ctx, s.Msgids["2207"])
	if err != nil || owner.ID != s.ID {
		t.Errorf("ByMsgid = %v, %v; want %s", owner, err, s.ID)
	}
}

func TestMsgidsIncreaseThroughBurstsReopensAndABackwardClock(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := mustAccept(t, j, "his-1")
	all := slices.Sorted(func(yield func(string) bool) {
		for _, m := range s.Msgids {
			yield(m)
		}
	})
	// 250 in one second: the counter overflows into the next seconds.
	burst := allocate(t, j, s.ID, 250)
	if last := burst[len(burst)-1]; last[12:26] <= journaltest.Start.In(protocol.CST).Format("20060102150405") {
		t.Errorf("a burst of 250 stayed within one second: %s", last)
	}
	all = append(all, burst...)
	j.MustReopen()
	all = append(all, allocate(t, j, s.ID, 3)...)
	// The clock is set back an hour, as after a bad NTP step.
	j.Clock.Set(journaltest.Start.Add(-time.Hour))
	all = append(all, allocate(t, j, s.ID, 3)...)
	j.MustReopen()
	all = append(all, allocate(t, j, s.ID, 3)...)
	assertIncreasing(t, all)
	j.MustVerify()
}

func TestMsgidsStayUniqueUnderConcurrentWriters(t *testing.T) {
	j := journaltest.MustOpen(t)
	const writers, each = 8, 15
	var (
		mu     sync.Mutex
		got    []string
		failed error
		wg     sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var mine []string
				var err error
				if i%5 == 4 {
					// Standalone allocations (sign-in) interleave with
					// settlements.
					var m string
					m, err = j.AllocateMsgid(ctx)
					mine = []string{m}
				} else {
					var s *agent.Settlement
					s, _, err = j.Accept(ctx, journaltest.Settlement(fmt.Sprintf("his-%d-%d", w, i)), settleSteps)
					if err == nil {
						for _, m := range s.Msgids {
							mine = append(mine, m)
						}
					}
				}
				mu.Lock()
				got = append(got, mine...)
				if err != nil {
					failed = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	want := writers * (each/5*4*5 + each/5)
	if len(got) != want {
		t.Fatalf("%d msgids, want %d", len(got), want)
	}
	slices.Sort(got)
	if dup := slices.Compact(slices.Clone(got)); len(dup) != len(got) {
		t.Fatalf("%d duplicate msgids among %d", len(got)-len(dup), len(got))
	}
	// All in one fake second: far more than 100, so the counter carried.
	if first, last := got[0][12:26], got[len(got)-1][12:26]; first == last {
		t.Errorf("%d msgids share the second %s", len(got), first)
	}
	j.MustReopen()
	next, err := j.AllocateMsgid(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next <= got[len(got)-1] {
		t.Errorf("after reopen, %s does not follow %s", next, got[len(got)-1])
	}
	j.MustVerify()
}

func TestStandaloneMsgidBelongsToNoSettlement(t *testing.T) {
	j := journaltest.MustOpen(t)
	m, err := j.AllocateMsgid(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.ByMsgid(ctx, m); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("ByMsgid of a standalone msgid: %v, want ErrNotFound", err)
	}
	s := mustAccept(t, j, "his-1")
	if s.Msgids["1101"] <= m {
		t.Errorf("settlement's msgid %s does not follow standalone %s", s.Msgids["1101"], m)
	}
}

func TestAllocatorDiesWithItsTransaction(t *testing.T) {
	j := journaltest.MustOpen(t)
	var kept agent.MsgidAllocator
	if _, _, err := j.Accept(ctx, journaltest.Settlement("his-1"), func(_ *agent.Settlement, ids agent.MsgidAllocator) error {
		kept = ids
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if m, err := kept.Next(); !errors.Is(err, journal.ErrAllocatorDone) {
		t.Fatalf("Next after the transaction = %q, %v; want ErrAllocatorDone", m, err)
	}
}

func TestASettlementsMsgidsTakeOneIndexEntryAndNoOtherMsgidIsFound(t *testing.T) {
	j := journaltest.MustOpen(t)
	a := mustAccept(t, j, "his-1")
	if n := journal.MsgidEntries(j.Journal); n != 1 {
		t.Fatalf("%d msgid index entries for one settlement's %d msgids; want one run", n, len(a.Msgids))
	}
	b := mustAccept(t, j, "his-2")
	later := allocate(t, j, a.ID, 2) // after b's: a run of its own
	one := allocate(t, j, b.ID, 1)
	j.Clock.Advance(10 * time.Second) // the clock moves on between two allocations
	jumped := allocate(t, j, b.ID, 1)
	if n := journal.MsgidEntries(j.Journal); n != 5 {
		t.Errorf("%d msgid index entries; want 5: two accepted runs, a's later pair, b's single one before and after the clock's jump", n)
	}

	owns := map[string][]string{a.ID: later, b.ID: append(one, jumped...)}
	for _, s := range []*agent.Settlement{a, b} {
		for _, m := range s.Msgids {
			owns[s.ID] = append(owns[s.ID], m)
		}
	}
	j.MustReopen()
	for id, msgids := range owns {
		for _, m := range msgids {
			if got, err := j.ByMsgid(ctx, m); err != nil || got.ID != id {
				t.Errorf("ByMsgid(%s) = %v, %v; want %s", m, got, err, id)
			}
		}
	}
	// Never handed out: the msgid the clock skipped, the one after the
	// last, another slot's and another institution's at the same time.
	gap, _ := protocol.MsgidAfter(one[0])
	next, _ := protocol.MsgidAfter(jumped[0])
	first := a.Msgids["1101"]
	otherSlot := first[:26] + "08" + first[28:]
	otherInstitution := "H44190000002" + first[12:]
	for _, m := range []string{gap, next, otherSlot, otherInstitution, first[:29], first + "0"} {
		if got, err := j.ByMsgid(ctx, m); !errors.Is(err, agent.ErrNotFound) {
			t.Errorf("ByMsgid(%s), never allocated = %v, %v; want ErrNotFound", m, got, err)
		}
	}
	j.MustVerify()
}
