package journal_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// readOnly is how the CLI opens the journal to inspect it: no terminal
// identity, only the file and its key.
func readOnly(j *journaltest.Journal) journal.Options {
	return journal.Options{KeyFile: j.Options.KeyFile, ReadOnly: true, LockTimeout: 100 * time.Millisecond, Logger: j.Options.Logger}
}

func TestSecondOpenOfALockedJournalFailsClearly(t *testing.T) {
	j := journaltest.MustOpen(t)
	cases := []struct {
		name string
		opts journal.Options
	}{
		// bbolt locks with flock, which conflicts between two open files
		// even within one process, so this stands for a second daemon.
		{"read-write", j.Options},
		{"read-only, as the CLI", readOnly(j)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			second, err := journal.Open(j.Path, c.opts)
			if err == nil {
				second.Close()
				t.Fatal("second Open of a locked journal succeeded")
			}
			if !errors.Is(err, agent.ErrJournalLocked) {
				t.Fatalf("error %v, want ErrJournalLocked", err)
			}
			for _, want := range []string{j.Path, "another medterm process (the daemon) holds its lock"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			// A generous bound: what matters is that it gives up at
			// all, since bbolt's own default is to wait forever.
			if waited := time.Since(start); waited > 5*time.Second {
				t.Errorf("gave up after %v with a 100ms lock timeout", waited)
			}
		})
	}
	// The holder is unaffected.
	mustAccept(t, j, "his-1")
}

func TestReadOnlyOpenInspectsAnUnlockedJournal(t *testing.T) {
	j := journaltest.MustOpen(t)
	s := mustAccept(t, j, "his-1")
	j.MustClose()

	ro, err := journal.Open(j.Path, readOnly(j))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	// Two inspectors share the lock.
	ro2, err := journal.Open(j.Path, readOnly(j))
	if err != nil {
		t.Fatalf("second read-only open: %v", err)
	}
	defer ro2.Close()

	got, err := ro.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, s)
	if all, err := ro2.List(ctx, agent.ListFilter{}); err != nil || len(all) != 1 {
		t.Errorf("List = %d settlements, %v", len(all), err)
	}
	if err := ro.Verify(ctx); err != nil {
		t.Error(err)
	}

	writes := map[string]func() error{
		"Accept": func() error { _, _, err := ro.Accept(ctx, journaltest.Settlement("his-2"), nil); return err },
		"Update": func() error {
			_, err := ro.Update(ctx, s.ID, func(*agent.Settlement, agent.MsgidAllocator) error { return nil })
			return err
		},
		"AllocateMsgid": func() error { _, err := ro.AllocateMsgid(ctx); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, journal.ErrReadOnly) || !errors.Is(err, agent.ErrJournal) {
			t.Errorf("%s on a read-only journal: %v, want ErrReadOnly", name, err)
		}
	}

	// While inspectors hold the shared lock, the daemon cannot start.
	if _, err := journal.Open(j.Path, j.Options); !errors.Is(err, agent.ErrJournalLocked) {
		t.Errorf("read-write open beside a read-only one: %v, want ErrJournalLocked", err)
	}
}

func TestReadOnlyOpenOfAMissingJournalCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	key := filepath.Join(dir, "journal.key")
	_, err := journal.Open(path, journal.Options{KeyFile: key, ReadOnly: true})
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, agent.ErrJournal) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want a journal error naming the missing %s", err, path)
	}
	for _, p := range []string{path, key} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a read-only open", p)
		}
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	good := journal.Options{KeyFile: filepath.Join(dir, "k"), Institution: "H44010600001", Slot: 7, IDPrefix: "DESK01"}
	cases := []struct {
		name string
		edit func(*journal.Options)
		want string
	}{
		{"no key file", func(o *journal.Options) { o.KeyFile = "" }, "KeyFile"},
		{"key file is the journal", func(o *journal.Options) { o.KeyFile = path }, "KeyFile"},
		{"short institution", func(o *journal.Options) { o.Institution = "H4401" }, "Institution"},
		{"institution with a space", func(o *journal.Options) { o.Institution = "H4401060000 " }, "Institution"},
		{"slot below 0", func(o *journal.Options) { o.Slot = -1 }, "Slot"},
		{"slot above 99", func(o *journal.Options) { o.Slot = 100 }, "Slot"},
		{"no id prefix", func(o *journal.Options) { o.IDPrefix = "" }, "IDPrefix"},
		{"id prefix with a slash", func(o *journal.Options) { o.IDPrefix = "DESK/01" }, "IDPrefix"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := good
			c.edit(&o)
			_, err := journal.Open(path, o)
			if !errors.Is(err, journal.ErrOptions) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrOptions naming %s", err, c.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("journal file created despite bad options")
			}
		})
	}
}
