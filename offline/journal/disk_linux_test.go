//go:build linux

package journal_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// mountTmpfs mounts a tmpfs of the given size on a temporary directory
// and unmounts it when the test ends. A real small filesystem gives the
// kernel's own ENOSPC and EROFS, where a fake would only give the errors
// we thought of.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("medterm-test", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount a %s tmpfs on %s: %v\nthis test fills a small filesystem and needs root (CAP_SYS_ADMIN) to make one: run the offline tests as root, as CI does", size, dir, err)
	}
	// Registered after TempDir's removal, so it runs before it.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v; detaching it", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

func remountReadOnly(t *testing.T, dir string) {
	t.Helper()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
}

func TestFullDiskFailsClearlyAndLosesNothingStored(t *testing.T) {
	dir := mountTmpfs(t, "512k")
	j := journaltest.MustOpenAt(t, filepath.Join(dir, "journal.db"))
	// Ballast, to free space once the disk is full.
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 128<<10), 0o600); err != nil {
		t.Fatal(err)
	}

	var stored []*agent.Settlement
	var failure error
	var failedKey string
	for i := range 2000 {
		key := fmt.Sprint("his-", i)
		s, _, err := j.Accept(ctx, journaltest.Settlement(key), settleSteps)
		if err != nil {
			failure, failedKey = err, key
			break
		}
		stored = append(stored, s)
	}
	if failure == nil {
		t.Fatal("2000 settlements fitted in 384 KiB: the disk never filled")
	}
	t.Logf("disk full after %d settlements: %v", len(stored), failure)
	if !errors.Is(failure, agent.ErrJournal) || !errors.Is(failure, syscall.ENOSPC) {
		t.Errorf("error %v, want a journal error wrapping ENOSPC", failure)
	}
	if !strings.Contains(failure.Error(), "nothing stored") {
		t.Errorf("error %q does not say that nothing was stored", failure)
	}
	if _, err := j.ByKey(ctx, failedKey); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("the refused settlement is in the journal: %v", err)
	}

	// An update on the full disk fails the same way or succeeds; either
	// way what Get returns is what was acknowledged.
	last := stored[len(stored)-1]
	if upd, err := j.Update(ctx, last.ID, func(s *agent.Settlement, ids agent.MsgidAllocator) error {
		s.State = agent.StateSettling
		for range 50 {
			if _, err := ids.Next(); err != nil {
				return err
			}
		}
		return nil
	}); err == nil {
		stored[len(stored)-1] = upd
	} else if !errors.Is(err, agent.ErrJournal) {
		t.Errorf("update on a full disk: %v, want a journal error", err)
	}

	// Everything acknowledged is there, after a restart too, on a disk
	// that is still full.
	j.MustVerify()
	j.MustReopen()
	for _, want := range stored {
		got, err := j.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("acknowledged settlement lost: %v", err)
		}
		assertSame(t, got, want)
	}
	if all, _ := j.List(ctx, agent.ListFilter{}); len(all) != len(stored) {
		t.Errorf("%d settlements listed, %d acknowledged", len(all), len(stored))
	}

	// With space again, the journal carries on.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if s, _, err := j.Accept(ctx, journaltest.Settlement(failedKey), settleSteps); err != nil {
		t.Fatalf("accept after space was freed: %v", err)
	} else if want := fmt.Sprintf("TEST01-%08d", len(stored)+1); s.ID != want {
		t.Errorf("id %s after the failure, want %s: the failed accept consumed a sequence number", s.ID, want)
	}
	j.MustVerify()
}

func TestReadOnlyFilesystemFailsClearlyAndStillAllowsInspection(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	j := journaltest.MustOpenAt(t, filepath.Join(dir, "journal.db"))
	s := mustAccept(t, j, "his-1")
	j.MustClose()
	remountReadOnly(t, dir)

	_, err := journal.Open(j.Path, j.Options)
	if !errors.Is(err, agent.ErrJournal) || !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), j.Path) {
		t.Errorf("read-write open on a read-only filesystem: %v, want a journal error naming the file", err)
	}

	ro, err := journal.Open(j.Path, readOnly(j))
	if err != nil {
		t.Fatalf("read-only open on a read-only filesystem: %v", err)
	}
	defer ro.Close()
	got, err := ro.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, s)

	// A new journal there fails before a key is made for it.
	o := j.Options
	o.KeyFile = filepath.Join(t.TempDir(), "new.key")
	if _, err := journal.Open(filepath.Join(dir, "new.db"), o); !errors.Is(err, agent.ErrJournal) || !errors.Is(err, syscall.EROFS) {
		t.Errorf("new journal on a read-only filesystem: %v", err)
	}
	if _, err := os.Stat(o.KeyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a key was created for a journal that could not be")
	}
}
