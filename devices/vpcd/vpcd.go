//go:build linux

// Package vpcd runs the virtual PC/SC stack that the demo and the
// integration tests use instead of hardware: pcscd with the vsmartcard
// vpcd driver, whose two readers wait for virtual cards on loopback TCP
// ports. It finds vpcd's readers from its pcscd configuration, starts
// pcscd when none runs (and stops only a pcscd it started, by its pid),
// and reserves the readers with a machine-wide file lock so that two
// users never insert cards into each other's readers.
package vpcd

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
	"time"

	"golang.org/x/sys/unix"

	"github.com/seed-a859fada/medterm/devices/pcsc"
)

// Where Debian's packages put things.
const (
	ConfFile   = "/etc/reader.conf.d/vpcd"
	socketPath = "/run/pcscd/pcscd.comm"
	// Install says how to get what is missing.
	Install = "`make setup` (run by `make run` and `make test`) installs pcscd, vsmartcard-vpcd, libpcsclite-dev and pcsc-tools"
)

// Errors.
var (
	ErrMissing = errors.New("the virtual PC/SC stack is not installed")
	ErrPCSCD   = errors.New("pcscd")
)

// Slot is one vpcd reader.
type Slot struct {
	Name string // the PC/SC reader name, e.g. "Virtual PCD 00 00"
	Addr string // where its virtual card connects, e.g. 127.0.0.1:35963
}

// Conf is vpcd's configuration: the readers' name prefix and the first
// reader's port; the second reader listens on the next port.
type Conf struct {
	Friendly string
	Port     int
}

// ReadConf reads vpcd's pcscd configuration.
func ReadConf(path string) (Conf, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Conf{}, fmt.Errorf("%w: %v: %s", ErrMissing, err, Install)
	}
	var c Conf
	if m := regexp.MustCompile(`(?m)^\s*FRIENDLYNAME\s+"([^"]+)"`).FindSubmatch(b); m != nil {
		c.Friendly = string(m[1])
	}
	if m := regexp.MustCompile(`(?m)^\s*CHANNELID\s+(\S+)`).FindSubmatch(b); m != nil {
		if p, err := strconv.ParseInt(string(m[1]), 0, 32); err == nil {
			c.Port = int(p)
		}
	}
	if c.Friendly == "" || c.Port == 0 {
		return Conf{}, fmt.Errorf("%w: %s lacks FRIENDLYNAME or CHANNELID", ErrMissing, path)
	}
	return c, nil
}

// Lock takes the machine-wide lock on the virtual readers, waiting for it
// until ctx ends. Closing the returned function's lock releases it.
func Lock(ctx context.Context) (unlock func(), err error) {
	path := filepath.Join(os.TempDir(), "medterm-vpcd.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lock the virtual readers: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock the virtual readers: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock the virtual readers: %w (another user holds them)", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Running reports whether a pcscd answers on its socket.
func Running() bool {
	c, err := net.Dial("unix", socketPath)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Daemon is a pcscd started by this process.
type Daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    []string // the last lines pcscd wrote, for failure reports
}

// StartDaemon starts pcscd in the foreground and waits until it says it
// is ready. --auto-exit ends a pcscd that outlives its starter.
func StartDaemon(ctx context.Context) (*Daemon, error) {
	bin, err := exec.LookPath("pcscd")
	if err != nil {
		bin = "/usr/sbin/pcscd"
		if _, serr := os.Stat(bin); serr != nil {
			return nil, fmt.Errorf("%w: pcscd not found: %s", ErrMissing, Install)
		}
	}
	if err := os.MkdirAll(filepath.Dir(socketPath), 0o755); err != nil {
		return nil, fmt.Errorf("%w needs %s: %w", ErrPCSCD, filepath.Dir(socketPath), err)
	}
	cmd := exec.Command(bin, "--foreground", "--info", "--auto-exit")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start: %w", ErrPCSCD, err)
	}
	d := &Daemon{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		var once sync.Once
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
		_ = cmd.Wait()
		close(d.exited)
	}()
	select {
	case <-ready:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("%w exited at start:\n%s", ErrPCSCD, d.LastLog())
	case <-ctx.Done():
	case <-time.After(15 * time.Second):
	}
	_ = d.Stop()
	return nil, fmt.Errorf("%w did not get ready:\n%s", ErrPCSCD, d.LastLog())
}

// LastLog is what pcscd wrote last.
func (d *Daemon) LastLog() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.log, "\n")
}

// Stop ends pcscd by its pid: SIGTERM, then SIGKILL if it lingers.
func (d *Daemon) Stop() error {
	select {
	case <-d.exited:
		return nil
	default:
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop pcscd: %w", err)
	}
	select {
	case <-d.exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("%w ignored SIGTERM for 10 s:\n%s", ErrPCSCD, d.LastLog())
	}
}

// WaitReaders waits, by reader events, until two readers named after vpcd
// are present, and returns them with their card ports.
func WaitReaders(ctx context.Context, r *pcsc.Reader, c Conf) (card, psam Slot, err error) {
	var known []pcsc.ReaderState
	backoff := 5 * time.Millisecond
	for {
		states, err := r.WaitChange(ctx, known)
		if errors.Is(err, pcsc.ErrServiceStopped) && ctx.Err() == nil {
			// pcscd logs "daemon ready" before its socket is bound and
			// listening, and nothing announces the moment it is: retry.
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 100*time.Millisecond)
			continue
		}
		if err != nil {
			return Slot{}, Slot{}, fmt.Errorf("no vpcd readers %q in pcscd: %w: %s", c.Friendly, err, Install)
		}
		var names []string
		for _, st := range states {
			if strings.HasPrefix(st.Reader, c.Friendly) {
				names = append(names, st.Reader)
			}
		}
		if len(names) >= 2 {
			slices.Sort(names)
			return Slot{Name: names[0], Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))},
				Slot{Name: names[1], Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port+1))}, nil
		}
		known = states
	}
}

// WaitCard waits, by reader events, until the reader holds a card
// (present) or is empty, and returns its state.
func WaitCard(ctx context.Context, r *pcsc.Reader, reader string, present bool) (pcsc.ReaderState, error) {
	var known []pcsc.ReaderState
	for {
		states, err := r.WaitChange(ctx, known)
		if err != nil {
			return pcsc.ReaderState{}, fmt.Errorf("wait for %q present=%v: %w", reader, present, err)
		}
		for _, st := range states {
			if st.Reader == reader && st.Present == present && !st.Mute {
				return st, nil
			}
		}
		known = states
	}
}

// Stack is the virtual stack ready for use: pcscd (started here or
// already running) with both vpcd readers present and reserved.
type Stack struct {
	Reader     *pcsc.Reader
	Card, PSAM Slot
	Daemon     *Daemon // nil when the pcscd serving us is not ours
	unlock     func()
}

// Start reserves the virtual readers, starts pcscd if none runs, and
// waits until both vpcd readers are there.
func Start(ctx context.Context) (*Stack, error) {
	conf, err := ReadConf(ConfFile)
	if err != nil {
		return nil, err
	}
	unlock, err := Lock(ctx)
	if err != nil {
		return nil, err
	}
	s := &Stack{unlock: unlock}
	s.Reader = pcsc.New()
	// A pcscd that answers now but is not ours may be on its way out: one
	// whose starter was killed gets SIGTERM (Pdeathsig) as the lock is
	// released, and another that nobody uses exits by itself
	// (--auto-exit). If it goes while we wait for the readers, we start
	// our own and wait again, rather than fail a test for another
	// process's exit.
	for attempt := 0; ; attempt++ {
		if !Running() && s.Daemon == nil {
			if s.Daemon, err = StartDaemon(ctx); err != nil {
				s.Close()
				return nil, err
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		s.Card, s.PSAM, err = WaitReaders(wctx, s.Reader, conf)
		cancel()
		if err == nil {
			return s, nil
		}
		if s.Daemon != nil && attempt == 0 && ctx.Err() == nil {
			// Our own pcscd came up without the readers: its vpcd driver
			// could not listen on the readers' ports, which a pcscd that
			// just ended may leave in TIME_WAIT for a minute. Stop it, wait
			// until the ports can be bound, and start again.
			log := s.Daemon.LastLog()
			_ = s.Daemon.Stop()
			s.Daemon = nil
			if werr := waitPortsFree(ctx, conf.Port, 90*time.Second); werr != nil {
				s.Close()
				return nil, fmt.Errorf("%w; pcscd said:\n%s", werr, log)
			}
			continue
		}
		if s.Daemon == nil && Running() && attempt == 0 && ctx.Err() == nil {
			// Another process's pcscd without our readers (its vpcd port
			// was still taken when it started): not ours to stop, but an
			// --auto-exit pcscd nobody uses ends within a minute. Wait
			// for it, then start our own.
			if werr := waitGone(ctx, 90*time.Second); werr == nil {
				continue
			}
		}
		if s.Daemon != nil || Running() || attempt > 0 || ctx.Err() != nil {
			s.Close()
			return nil, err
		}
	}
}

// waitPortsFree waits until the two readers' ports can be bound as vpcd
// binds them (without SO_REUSEADDR: a TIME_WAIT connection blocks it), for
// at most d.
func waitPortsFree(ctx context.Context, port int, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !portFree(port) || !portFree(port+1) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: the virtual readers' ports %d and %d stay taken", ErrPCSCD, port, port+1)
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// portFree reports whether a plain bind of port succeeds now.
func portFree(port int) bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port}) == nil
}

// waitGone waits until no pcscd answers, for at most d.
func waitGone(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for Running() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: a pcscd without the virtual readers still runs", ErrPCSCD)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// Close releases the readers and stops a pcscd started by Start.
func (s *Stack) Close() error {
	var err error
	if s.Reader != nil {
		s.Reader.Close()
	}
	if s.Daemon != nil {
		err = s.Daemon.Stop()
	}
	s.unlock()
	return err
}
