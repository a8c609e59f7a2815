//go:build linux

package main

// The journal's disk going wrong under the real daemon: full, read-only,
// failing mid-settlement, and a journal file damaged while the daemon was
// down. The daemon runs in this process (the cobra root, as `medterm
// serve`), against the sandbox platform on loopback, with its journal on
// a small filesystem that the test mounts, so the errors are the
// kernel's own (ENOSPC, EROFS, EIO), not the ones a fake would think of.
//
// The rule under test (offline/README.md): a clear error, no acknowledgement
// that was not durable, and nothing already stored lost.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// mountTmpfs mounts a tmpfs of size on a fresh directory, unmounted when
// the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("medterm-disk-test", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount a %s tmpfs on %s: %v\nthese tests put the journal on a small filesystem of their own and need root (CAP_SYS_ADMIN) to mount it: run them as root, as CI does", size, dir, err)
	}
	t.Cleanup(func() { unmount(t, dir) })
	return dir
}

func unmount(t *testing.T, dir string) {
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Errorf("unmount %s: %v; detaching it", dir, err)
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	}
}

func remount(t *testing.T, dir string, flags uintptr) {
	t.Helper()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|flags, ""); err != nil {
		t.Fatalf("remount %s (flags %#x): %v", dir, flags, err)
	}
}

// fill writes ballast into dir until the filesystem is full, then gives
// spare bytes back, and returns the file to remove to free the space.
func fill(t *testing.T, dir string, spare int64) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4 << 10, 512} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", dir, err)
				}
				break
			}
		}
	}
	if spare > 0 {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(max(st.Size()-spare, 0)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestFullDiskRefusesTheBillItCannotJournalAndLosesNothingAcknowledged(t *testing.T) {
	fs := mountTmpfs(t, "1m")
	r := newDiskRig(t, filepath.Join(fs, "journal.db"))
	d := r.mustStart()
	var acked []api.SettlementView
	for i := range 3 {
		acked = append(acked, r.mustSettle(i))
	}
	ballast := fill(t, fs, 96<<10)

	// Bills until one cannot be journaled: the journal grows into the
	// spare room first.
	failed := -1
	var failure error
	for i := 3; i < 400 && failed < 0; i++ {
		v, err := r.settleThrough(i)
		switch {
		case err != nil:
			failed, failure = i, err
		case v.State != agent.StateSettled:
			t.Fatalf("bill %d on the full disk answered %s %+v\ndaemon log:\n%s", i, v.State, v.Error, d.out)
		default:
			acked = append(acked, v)
		}
	}
	if failed < 0 {
		t.Fatal("400 bills fitted on a full 1 MiB filesystem: it never refused one")
	}
	t.Logf("full after %d bills: %v", len(acked), failure)
	refusal := wantJournalError(t, failure, "no space left on device")
	// The same bill again, on a disk that is still nearly full: refused the
	// same way, or (the failed write left the file room enough) answered.
	// Answered, it must be a bill this very call created when the refusal
	// said nothing was accepted; it is never booked twice (the books below).
	retried, err := r.settle(failed)
	retryStored := err == nil
	if err != nil {
		wantJournalError(t, err, "no space left on device")
	} else if refusal.Code == "JOURNAL_UNAVAILABLE" && !retried.Created {
		t.Errorf("the refusal said nothing was accepted, but the bill was already stored: %s", retried.ID)
	}
	r.wantStored("on the full disk", acked)

	// A restart on the full disk loses nothing either.
	d.stop(t)
	d = r.mustStart()
	r.wantStored("after a restart on the full disk", acked)

	// Space again: stored bills are there after a restart, the refused bill
	// goes through under its key, and new bills settle.
	d.stop(t)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	r.mustStart()
	r.wantStored("after space was freed", acked)
	again := r.mustSettle(failed)
	if strings.Contains(refusal.Message, "nothing was accepted") && !retryStored && !again.Created {
		t.Errorf("the refusal said nothing was accepted, but the bill was stored: %s", again.ID)
	}
	acked = append(acked, again, r.mustSettle(failed+1))
	r.wantBooks(acked)
}

func TestReadOnlyJournalStopsTheDaemonClearlyAndStaysReadable(t *testing.T) {
	fs := mountTmpfs(t, "1m")
	r := newDiskRig(t, filepath.Join(fs, "journal.db"))
	d := r.mustStart()
	acked := []api.SettlementView{r.mustSettle(0), r.mustSettle(1)}
	// A filesystem cannot be made read-only under a file open for
	// writing (the kernel answers EBUSY): the daemon is stopped first, as
	// it would be by the reboot that finds the disk read-only.
	d.stop(t)
	remount(t, fs, syscall.MS_RDONLY)

	_, err := r.start()
	if !errors.Is(err, agent.ErrJournal) || !strings.Contains(err.Error(), r.journal) || !strings.Contains(err.Error(), "read-only file system") {
		t.Fatalf("serve on a read-only journal: %v; want a journal error naming the file and the read-only filesystem", err)
	}
	if code := exitCode(err, io.Discard); code != exitJournal {
		t.Errorf("exit code %d; want %d (journal)", code, exitJournal)
	}
	// Staff can still read everything, from the file itself.
	out, code := r.cli("journal", "list", "--json")
	if code != exitOK {
		t.Fatalf("journal list on the read-only journal: exit %d\n%s", code, out)
	}
	for _, a := range acked {
		if !strings.Contains(out, a.ID) {
			t.Errorf("journal list does not show %s:\n%s", a.ID, out)
		}
		if out, code := r.cli("journal", "show", a.ID); code != exitOK || !strings.Contains(out, "settled") {
			t.Errorf("journal show %s: exit %d\n%s", a.ID, code, out)
		}
	}

	remount(t, fs, 0)
	r.mustStart()
	r.wantStored("writable again", acked)
	acked = append(acked, r.mustSettle(2))
	r.wantBooks(acked)
}

// ext4 on a loop device, because it can be made to fail under an open
// file (a filesystem cannot be remounted read-only while a file on it is
// open for writing). EXT4_IOC_SHUTDOWN with NOLOGFLUSH makes every
// later write fail with EIO and throws away what was not yet synced,
// as a disk that dies (or a power cut) would.
const (
	ext4IocShutdown = 0x8004587d // _IOR('X', 125, __u32)
	ext4NoLogFlush  = 2          // EXT4_GOING_FLAGS_NOLOGFLUSH
)

// ext4Disk is a small ext4 filesystem in an image file, mounted on dir.
type ext4Disk struct {
	t        *testing.T
	img, dir string
	mounted  bool
}

func newExt4Disk(t *testing.T) *ext4Disk {
	t.Helper()
	e := &ext4Disk{t: t, img: filepath.Join(t.TempDir(), "disk.img"), dir: t.TempDir()}
	if err := os.WriteFile(e.img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(e.img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", e.img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s\nthis test needs mkfs.ext4 (Debian package e2fsprogs)", err, out)
	}
	e.mount()
	t.Cleanup(func() {
		if e.mounted {
			unmount(t, e.dir)
		}
	})
	return e
}

func (e *ext4Disk) mount() {
	e.t.Helper()
	if out, err := exec.Command("mount", "-o", "loop", e.img, e.dir).CombinedOutput(); err != nil {
		e.t.Fatalf("mount -o loop %s: %v\n%s\nthis test mounts an ext4 image through a loop device: it needs root and /dev/loop-control", e.img, err, out)
	}
	e.mounted = true
}

// fail makes the filesystem refuse every write from now on.
func (e *ext4Disk) fail() {
	f, err := os.Open(e.dir)
	if err != nil {
		e.t.Error(err)
		return
	}
	defer f.Close()
	flags := uint32(ext4NoLogFlush)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), ext4IocShutdown, uintptr(unsafe.Pointer(&flags))); errno != 0 {
		e.t.Errorf("shut %s down: %v", e.dir, errno)
	}
}

// replace is the disk swapped for a good one holding what was synced:
// unmounted and mounted again, ext4 replaying its own journal.
func (e *ext4Disk) replace() {
	e.t.Helper()
	unmount(e.t, e.dir)
	e.mounted = false
	e.mount()
}

// failAfterCommit sets the disk to fail the moment the platform has booked
// the next settlement, before its answer reaches the daemon.
func (r *diskRig) failAfterCommit(e *ext4Disk) {
	r.onCommitted(func() {
		r.onCommitted(nil)
		e.fail()
	})
}

func TestDiskFailingMidSettlementLosesNothingAcknowledgedAndChargesOnce(t *testing.T) {
	disk := newExt4Disk(t)
	r := newDiskRig(t, filepath.Join(disk.dir, "journal.db"))
	d := r.mustStart()
	var acked []api.SettlementView
	for i := range 3 {
		acked = append(acked, r.mustSettle(i))
	}

	// The platform books bill 3, then the disk dies before the daemon can
	// record the answer: the HIS gets a clear error, not a receipt.
	r.failAfterCommit(disk)
	_, err := r.settle(3)
	wantJournalError(t, err, "input/output error")
	_, err = r.settle(4)
	wantJournalError(t, err, "input/output error")
	// Reads on the failed disk answer what is stored, or the same clear
	// error (bbolt may have lost its memory map with the disk): never
	// anything else.
	for _, a := range acked {
		if v, err := r.api.Get(context.Background(), a.ID, false); err != nil {
			wantJournalError(t, err, "journal")
		} else if v.State != a.State || !sameSplit(v.Split, a.Split) {
			t.Errorf("%s on the failed disk reads %s %s; answered %s %s", a.ID, v.State, v.Split, a.State, a.Split)
		}
	}

	// The disk is replaced by one with what was synced (and nothing else).
	d.stop(t)
	disk.replace()
	r.mustStart()
	r.wantStored("after the disk failed", acked)
	// The HIS submits bill 3 again, as it must without an answer: the
	// daemon had stored it, resends the request the platform booked under
	// the same msgid, and gets the same settlement back.
	again := r.mustSettle(3)
	acked = append(acked, again, r.mustSettle(4))
	r.wantBooks(acked)
}

// PRODUCT BUG (fails until fixed): the daemon stored a bill, the platform
// booked it, and the disk failed before the daemon could record the
// answer. The API answers 503 journal_unavailable saying "nothing was
// accepted", which is false twice over: the bill is in the journal (a
// resubmission finds it, created: false) and the patient is charged. A
// HIS, or the staff member reading the message, may then take the money
// another way. The message must say the bill is stored and its outcome
// unknown, and to submit it again under the same key.
func TestJournalFailureAfterThePlatformBookedDoesNotSayNothingWasAccepted(t *testing.T) {
	disk := newExt4Disk(t)
	r := newDiskRig(t, filepath.Join(disk.dir, "journal.db"))
	d := r.mustStart()
	r.failAfterCommit(disk)
	_, err := r.settle(0)
	refusal := wantJournalError(t, err, "input/output error")
	d.stop(t)
	disk.replace()
	r.mustStart()
	l, err := r.sandbox.Ledger(context.Background())
	if err != nil || len(l.Settlements) != 1 {
		t.Fatalf("ledger %v %+v; want the one booking", err, l.Settlements)
	}
	again := r.mustSettle(0)
	if again.Created {
		t.Fatal("the bill was not stored after all: nothing to show")
	}
	if strings.Contains(refusal.Message, "nothing was accepted") {
		t.Errorf("the daemon had stored %s and the platform had booked it (%s), yet the HIS was told: %q", again.ID, l.Settlements[0].SetlID, refusal.Message)
	}
}

// recordAt finds where settlement id's record lies in the journal file:
// every copy of its bytes, for older copies linger in freed pages, and a
// record of a bucket small enough to be kept inline in its parent is
// handed out by bbolt as a copy, not as a slice of its memory map.
// Damaging every copy damages the live one.
func recordAt(t *testing.T, path, id string) (offs []int64, rec []byte, pageSize int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		b, key := journaltest.RawRecord(tx, id)
		if b == nil {
			return fmt.Errorf("no record %s", id)
		}
		rec = bytes.Clone(b.Get(key))
		return nil
	})
	pageSize = db.Info().PageSize
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for at := 0; ; {
		i := bytes.Index(file[at:], rec)
		if i < 0 {
			break
		}
		offs = append(offs, int64(at+i))
		at += i + 1
	}
	if len(offs) == 0 {
		t.Fatalf("the record of %s is not in the file", id)
	}
	return offs, rec, pageSize
}

// patch is bytes written over the journal file at an offset, as a
// failing disk or a stray write would.
type patch struct {
	at int64
	b  []byte
}

// damagedJournal settles three bills, stops the daemon, and damages the
// file with the patches damage makes, given where the second bill's record
// lies.
func damagedJournal(t *testing.T, damage func(rec []byte, off int64, pageSize int) []patch) (r *diskRig, acked []api.SettlementView) {
	t.Helper()
	r = newDiskRig(t, filepath.Join(t.TempDir(), "journal.db"))
	d := r.mustStart()
	for i := range 3 {
		acked = append(acked, r.mustSettle(i))
	}
	d.stop(t)
	offs, rec, pageSize := recordAt(t, r.journal, acked[1].ID)
	f, err := os.OpenFile(r.journal, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range offs {
		for _, p := range damage(rec, off, pageSize) {
			if _, err := f.WriteAt(p.b, p.at); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r, acked
}

// The journal file is damaged while the daemon is down: bytes overwritten
// in the middle of a settlement's record, on its page. bbolt keeps no
// checksum of its data pages, so it opens the file, and the daemon starts;
// the journal itself finds the damage when it decodes the record (its
// JSON, or the authenticated seal of its personal fields). What the
// product does then, precisely: the damaged settlement is answered 503
// journal_unavailable naming it as corrupt, through the API and `medterm
// journal show`; a listing that reaches it fails the same way rather than
// leave it out; every other settlement reads back intact, and new bills
// settle. The metadata pages damaged too, bbolt refuses the file and the
// daemon does not start, naming it.
func TestDamagedJournalRecordIsReportedAndNothingElseIsLost(t *testing.T) {
	cases := []struct {
		name   string
		damage func(rec []byte, off int64, pageSize int) []patch
	}{
		{"bytes of the record overwritten", func(rec []byte, off int64, _ int) []patch {
			return []patch{{off + int64(len(rec))/3, bytes.Repeat([]byte{0xff}, 8)}}
		}},
		{"bytes of the sealed personal fields overwritten", func(rec []byte, off int64, _ int) []patch {
			i := bytes.Index(rec, []byte(`"personal":"`))
			return []patch{{off + int64(i) + 24, []byte("AAAA")}} // still base64: only the seal can tell
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, acked := damagedJournal(t, c.damage)
			bad := acked[1].ID
			d := r.mustStart()
			_, err := r.api.Get(context.Background(), bad, false)
			if ae := wantJournalError(t, err, "corrupt"); !strings.Contains(ae.Message, bad) {
				t.Errorf("the error does not name %s: %s", bad, ae.Message)
			}
			r.wantStored("beside the damaged record", []api.SettlementView{acked[0], acked[2]})
			if _, err := r.api.List(context.Background(), "", 10, false); err == nil {
				t.Error("a listing through the damaged record answered as if nothing were wrong")
			} else if ae := wantJournalError(t, err, bad); !strings.Contains(ae.Message, "corrupt") {
				t.Errorf("listing: %s", ae.Message)
			}
			r.mustSettle(3)

			d.stop(t)
			out, code := r.cli("journal", "show", bad)
			if code != exitJournal || !strings.Contains(out, bad) || !strings.Contains(out, "corrupt") {
				t.Errorf("journal show %s: exit %d\n%s", bad, code, out)
			}
			if out, code := r.cli("journal", "list"); code != exitJournal || !strings.Contains(out, bad) {
				t.Errorf("journal list: exit %d\n%s", code, out)
			}
			for _, a := range []api.SettlementView{acked[0], acked[2]} {
				if out, code := r.cli("journal", "show", a.ID); code != exitOK || !strings.Contains(out, a.SetlID) {
					t.Errorf("journal show %s: exit %d\n%s", a.ID, code, out)
				}
			}
		})
	}
	t.Run("both metadata pages overwritten", func(t *testing.T) {
		r, acked := damagedJournal(t, func(_ []byte, _ int64, pageSize int) []patch {
			return []patch{{32, []byte("damaged!")}, {int64(pageSize) + 32, []byte("damaged!")}} // inside each meta, under its checksum
		})
		_, err := r.start()
		if !errors.Is(err, agent.ErrJournal) || !strings.Contains(err.Error(), r.journal) || !strings.Contains(err.Error(), "not a medterm journal") {
			t.Fatalf("serve on a journal with no valid metadata: %v; want a refusal naming the file", err)
		}
		if code := exitCode(err, io.Discard); code != exitJournal {
			t.Errorf("exit code %d; want %d", code, exitJournal)
		}
		if out, code := r.cli("journal", "show", acked[0].ID); code != exitJournal || !strings.Contains(out, r.journal) {
			t.Errorf("journal show: exit %d\n%s", code, out)
		}
	})
}

// PRODUCT GAP (fails until fixed): only the personal fields of a journal
// record are authenticated (sealed); the rest is plain JSON, and bbolt
// checks no data page. One digit of an amount changed on disk (a bit
// flip) still decodes, and the daemon serves the changed amount as the
// settlement's split, unbalanced, without a word: what the patient was
// charged is silently lost. The record as a whole needs a check (a MAC
// under a key derived from the journal key, verified on every decode and
// by Verify), so that this damage is reported like any other.
func TestJournalRecordWithAChangedAmountIsReportedNotServed(t *testing.T) {
	r, acked := damagedJournal(t, func(rec []byte, off int64, _ int) []patch {
		i := bytes.Index(rec, []byte(`"total_fen":`)) // the split's, the first in the record
		return []patch{{off + int64(i+len(`"total_fen":`)), []byte("9")}}
	})
	r.mustStart()
	bad := acked[1]
	v, err := r.api.Get(context.Background(), bad.ID, false)
	if err == nil {
		t.Fatalf("%s answered %s with split %s; it was settled for %s", bad.ID, v.State, v.Split, bad.Split)
	}
	wantJournalError(t, err, "corrupt")
}
