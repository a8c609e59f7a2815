//go:build linux

// Package pcsctest gives integration tests the real PC/SC stack: pcscd
// with the vpcd virtual-reader driver, and virtual cards inserted into its
// two readers. It starts pcscd when none is running and stops it, by its
// pid, when the test ends. A test reserves the virtual readers with an
// exclusive file lock for as long as it uses them, so test packages that
// run in parallel never insert cards into each other's readers or stop
// each other's pcscd.
//
// A machine without pcscd or vpcd fails the test with a message naming
// what `make test` installs; it does not skip.
package pcsctest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// Where Debian's packages put things.
const (
	vpcdConf   = "/etc/reader.conf.d/vpcd"
	socketPath = "/run/pcscd/pcscd.comm"
	install    = "`make test` installs pcscd, vsmartcard-vpcd, libpcsclite-dev and pcsc-tools (see TESTING.md)"
)

// Slot is one vpcd reader.
type Slot struct {
	Name string // the PC/SC reader name, e.g. "Virtual PCD 00 00"
	Addr string // where its virtual card connects, e.g. 127.0.0.1:35963
}

// Stack is pcscd with vpcd's readers, reserved for one test.
type Stack struct {
	// Reader is a PC/SC reader for the test, closed when the test ends.
	Reader *pcsc.Reader
	// Card and PSAM are the two virtual readers.
	Card, PSAM Slot

	pcscd  string
	daemon *daemon // nil when the pcscd serving us is not ours
}

// Start reserves the virtual readers, starts pcscd if none runs, and
// waits until both vpcd readers are there. Everything is undone when tb
// ends.
func Start(tb testing.TB) *Stack {
	tb.Helper()
	pcscdPath, err := exec.LookPath("pcscd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pcscd"); serr != nil {
			tb.Fatalf("pcscd not found: %s", install)
		}
		pcscdPath = "/usr/sbin/pcscd"
	}
	friendly, port, err := readVPCDConf(vpcdConf)
	if err != nil {
		tb.Fatalf("vpcd is not configured (%v): %s", err, install)
	}
	lockReaders(tb)

	s := &Stack{pcscd: pcscdPath}
	if !daemonRunning() {
		s.startDaemon(tb)
	} else {
		tb.Logf("using the pcscd already running")
	}
	s.Reader = pcsc.New()
	tb.Cleanup(func() { s.Reader.Close() })

	names := s.waitReaders(tb, friendly)
	s.Card = Slot{Name: names[0], Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.PSAM = Slot{Name: names[1], Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1))}
	return s
}

// lockReaders takes the machine-wide lock on the virtual readers until tb
// ends.
func lockReaders(tb testing.TB) {
	tb.Helper()
	path := filepath.Join(os.TempDir(), "medterm-vpcd.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		tb.Fatalf("lock the virtual readers: %v", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		tb.Fatalf("lock the virtual readers: %v", err)
	}
	tb.Cleanup(func() { f.Close() }) // closing releases the lock
}

// readVPCDConf reads vpcd's reader name and first port from its pcscd
// configuration; the second reader listens on the next port.
func readVPCDConf(path string) (friendly string, port int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	if m := regexp.MustCompile(`(?m)^\s*FRIENDLYNAME\s+"([^"]+)"`).FindSubmatch(b); m != nil {
		friendly = string(m[1])
	}
	if m := regexp.MustCompile(`(?m)^\s*CHANNELID\s+(\S+)`).FindSubmatch(b); m != nil {
		p, perr := strconv.ParseInt(string(m[1]), 0, 32)
		if perr == nil {
			port = int(p)
		}
	}
	if friendly == "" || port == 0 {
		return "", 0, fmt.Errorf("%s lacks FRIENDLYNAME or CHANNELID", path)
	}
	return friendly, port, nil
}

func daemonRunning() bool {
	c, err := net.Dial("unix", socketPath)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitReaders waits, by reader events, until two readers named after
// vpcd are present, and returns their names in order.
func (s *Stack) waitReaders(tb testing.TB, friendly string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var known []agent.ReaderState
	backoff := 5 * time.Millisecond
	for {
		states, err := s.Reader.WaitChange(ctx, known)
		if errors.Is(err, pcsc.ErrServiceStopped) && ctx.Err() == nil {
			// pcscd logs "daemon ready" before its socket is bound and
			// listening, and nothing announces the moment it is: retry.
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			backoff = min(2*backoff, 100*time.Millisecond)
			continue
		}
		if errors.Is(err, pcsc.ErrNoCgo) {
			tb.Fatalf("the PC/SC stack tests need cgo: %v", err)
		}
		if err != nil {
			log := ""
			if s.daemon != nil {
				log = s.daemon.lastLog()
			}
			tb.Fatalf("no vpcd readers %q in pcscd (%v): %s\n%s", friendly, err, install, log)
		}
		var names []string
		for _, st := range states {
			if strings.HasPrefix(st.Reader, friendly) {
				names = append(names, st.Reader)
			}
		}
		if len(names) >= 2 {
			slices.Sort(names)
			return names[:2]
		}
		known = states
	}
}

// Owned reports whether this test started the pcscd it uses.
func (s *Stack) Owned() bool { return s.daemon != nil }

// StopDaemon stops pcscd. A test may only stop a daemon it started: with
// a system pcscd running, the test is skipped with a message saying so.
func (s *Stack) StopDaemon(tb testing.TB) {
	tb.Helper()
	if s.daemon == nil {
		tb.Skip("a pcscd not started by this test is running; stopping it is not this test's to do")
	}
	s.daemon.stop(tb)
	s.daemon = nil
}

// StartDaemon starts pcscd again after StopDaemon and waits for the
// readers.
func (s *Stack) StartDaemon(tb testing.TB) {
	tb.Helper()
	s.startDaemon(tb)
	friendly, _, _ := readVPCDConf(vpcdConf)
	s.waitReaders(tb, friendly)
}

// daemon is a pcscd started by a test.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    []string // the last lines pcscd wrote, for failure reports
}

func (s *Stack) startDaemon(tb testing.TB) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(socketPath), 0o755); err != nil {
		tb.Fatalf("pcscd needs %s: %v", filepath.Dir(socketPath), err)
	}
	// --auto-exit ends a pcscd that outlives a killed test run.
	cmd := exec.Command(s.pcscd, "--foreground", "--info", "--auto-exit")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start pcscd: %v: %s", err, install)
	}
	d := &daemon{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			d.mu.Lock()
			d.log = append(d.log, sc.Text())
			if len(d.log) > 50 {
				d.log = d.log[1:]
			}
			d.mu.Unlock()
			if strings.Contains(sc.Text(), "daemon ready") {
				once.Do(func() { close(ready) })
			}
		}
		cmd.Wait()
		close(d.exited)
	}()
	select {
	case <-ready:
	case <-d.exited:
		tb.Fatalf("pcscd exited at start:\n%s", d.lastLog())
	case <-time.After(15 * time.Second):
		d.stop(tb)
		tb.Fatalf("pcscd did not get ready:\n%s", d.lastLog())
	}
	s.daemon = d
	tb.Cleanup(func() {
		if s.daemon == d {
			d.stop(tb)
		}
	})
}

func (d *daemon) lastLog() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.log, "\n")
}

// stop ends pcscd by its pid: SIGTERM, then SIGKILL if it lingers.
func (d *daemon) stop(tb testing.TB) {
	tb.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Errorf("stop pcscd: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		tb.Errorf("pcscd ignored SIGTERM for 10 s:\n%s", d.lastLog())
	}
}

// Inserted is a virtual card in a reader.
type Inserted struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Insert puts the applet into the slot's reader until Remove or the end of
// the test.
func Insert(tb testing.TB, slot Slot, a vcard.Applet) *Inserted {
	ctx, cancel := context.WithCancel(context.Background())
	in := &Inserted{cancel: cancel, done: make(chan struct{})}
	go func() {
		in.err = vcard.Serve(ctx, slot.Addr, a)
		close(in.done)
	}()
	tb.Cleanup(func() { in.Remove() })
	return in
}

// Remove takes the card out and returns how its service ended.
func (in *Inserted) Remove() error {
	in.cancel()
	<-in.done
	return in.err
}

// Done is closed when the card left by itself (pulled).
func (in *Inserted) Done() <-chan struct{} { return in.done }

// WaitCard waits, by reader events, until the reader holds a card
// (present) or is empty, and returns its state.
func WaitCard(ctx context.Context, r agent.CardReader, reader string, present bool) (agent.ReaderState, error) {
	var known []agent.ReaderState
	for {
		states, err := r.WaitChange(ctx, known)
		if err != nil {
			return agent.ReaderState{}, fmt.Errorf("wait for %q present=%v: %w", reader, present, err)
		}
		for _, st := range states {
			if st.Reader == reader && st.Present == present && !st.Mute {
				return st, nil
			}
		}
		known = states
	}
}
