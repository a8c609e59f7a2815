//go:build linux

package scanner

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/seed-a859fada/medterm/agent/clock"
)

// These tests put a pseudo-terminal where the scanner's serial port would
// be: the test writes what a scanner sends to the master, and the scanner
// opens the slave's path with the real tarm/serial. Closing the master is
// unplugging the scanner.

// patience bounds every wait in these tests; nothing waits for it unless
// something is broken.
const patience = 10 * time.Second

// fakeDevice is one plugged-in scanner: a pty pair.
type fakeDevice struct {
	master, slave *os.File
	once          sync.Once
}

// plug opens a pty and, when link is set, points the symlink link at its
// slave, as udev does for a stable name such as /dev/scanner.
func plug(t *testing.T, link string) *fakeDevice {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	d := &fakeDevice{master: m, slave: s}
	t.Cleanup(d.unplug)
	// Raw before the scanner opens the port, so that bytes written before
	// then are kept as they are: the line discipline's default would turn
	// CR into LF and echo.
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("get termios: %v", err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	if err := unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatalf("set termios: %v", err)
	}
	if link != "" {
		tmp := link + ".new"
		if err := os.Symlink(s.Name(), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d *fakeDevice) unplug() {
	d.once.Do(func() {
		d.master.Close()
		d.slave.Close()
	})
}

// harness runs a scanner's Scan or Run and watches what it reads.
type harness struct {
	t       *testing.T
	s       *Serial
	dev     *fakeDevice
	codes   <-chan Code
	read    atomic.Int64 // bytes the scanner has read and framed
	written int64        // bytes the test has written
	readSig chan struct{}
	done    chan error
	cancel  context.CancelFunc
}

func newHarness(t *testing.T, cfg Config, opts Options) *harness {
	t.Helper()
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, s: s, readSig: make(chan struct{}, 1), done: make(chan error, 1)}
	s.afterRead = func(n int) {
		h.read.Add(int64(n))
		select {
		case h.readSig <- struct{}{}:
		default:
		}
	}
	return h
}

// startScan runs Scan on a fresh scanner in the background.
func startScan(t *testing.T, cfg Config, opts Options) *harness {
	h := newHarness(t, cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Code)
	h.codes, h.cancel = out, cancel
	go func() { h.done <- h.s.Scan(ctx, out) }()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

// startRun runs Run on a fresh scanner in the background.
func startRun(t *testing.T, cfg Config, clk clock.Clock) *harness {
	h := newHarness(t, cfg, Options{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	h.codes, h.cancel = h.s.Codes(), cancel
	go func() { h.done <- h.s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

// send writes chunk to the device and returns the codes the scanner sent
// once it has read every byte written so far: chunks sent one by one reach
// the scanner in separate reads.
func (h *harness) send(chunk string) []string {
	h.t.Helper()
	if _, err := h.dev.master.Write([]byte(chunk)); err != nil {
		h.t.Fatalf("write to pty: %v", err)
	}
	h.written += int64(len(chunk))
	var got []string
	deadline := time.After(patience)
	for h.read.Load() < h.written {
		select {
		case c := <-h.codes:
			got = append(got, c.Text)
		case <-h.readSig:
		case err := <-h.done:
			h.t.Fatalf("scanner stopped while %d of %d bytes unread: %v", h.written-h.read.Load(), h.written, err)
		case <-deadline:
			h.t.Fatalf("scanner read %d of %d bytes", h.read.Load(), h.written)
		}
	}
	return got
}

// next waits for the next code.
func (h *harness) next() Code {
	h.t.Helper()
	select {
	case c := <-h.codes:
		return c
	case err := <-h.done:
		h.t.Fatalf("scanner stopped before sending a code: %v", err)
	case <-time.After(patience):
		h.t.Fatal("no code")
	}
	return Code{}
}

// stopped waits for Scan or Run to return.
func (h *harness) stopped() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(patience):
		h.t.Fatal("scanner did not stop")
		return nil
	}
}

func TestSerialReadsCodesThroughAPty(t *testing.T) {
	cases := []struct {
		name   string
		mut    func(*Config)
		chunks []string
		want   []string
		stats  Stats
	}{
		{"CR", nil, []string{"HQR0001\r"}, []string{"HQR0001"}, Stats{Lines: 1, Codes: 1}},
		{"LF", func(c *Config) { c.Terminator = LF }, []string{"HQR0001\n"}, []string{"HQR0001"}, Stats{Lines: 1, Codes: 1}},
		{"CRLF", func(c *Config) { c.Terminator = CRLF }, []string{"HQR0001\r\n"}, []string{"HQR0001"}, Stats{Lines: 1, Codes: 1}},
		{"TAB", func(c *Config) { c.Terminator = TAB }, []string{"HQR0001\t"}, []string{"HQR0001"}, Stats{Lines: 1, Codes: 1}},
		{"AIM identifier stripped", nil, []string{"]Q1HQR0001\r", "HQR0002\r"}, []string{"HQR0001", "HQR0002"}, Stats{Lines: 2, Codes: 2}},
		{"AIM identifier required", func(c *Config) { c.AIM = AIMRequire }, []string{"]Q3HQR0001\r", "HQR0002\r"}, []string{"HQR0001"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"AIM identifier kept", func(c *Config) { c.AIM = AIMNone }, []string{"]Q1HQR0001\r"}, []string{"]Q1HQR0001"}, Stats{Lines: 1, Codes: 1}},
		{"code split across reads", nil, []string{"HQR", "00", "01\r"}, []string{"HQR0001"}, Stats{Lines: 1, Codes: 1}},
		{"CRLF split between CR and LF", func(c *Config) { c.Terminator = CRLF }, []string{"A1\r", "\nA2\r", "\n"}, []string{"A1", "A2"}, Stats{Lines: 2, Codes: 2}},
		{"several codes in one read", func(c *Config) { c.Terminator = LF }, []string{"A1\nA2\nA3\n"}, []string{"A1", "A2", "A3"}, Stats{Lines: 3, Codes: 3}},
		{"control bytes are noise", nil, []string{"\x00\x13\x03GARB\r", "OK1\r"}, []string{"OK1"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"wrong-baud garbage is noise", nil, []string{"\xf0\xe0\x80\xfe\r", "OK1\r"}, []string{"OK1"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"overlong line is noise to its end", func(c *Config) { c.MaxLen = 16 }, []string{strings.Repeat("X", 30), strings.Repeat("Y", 30) + "\rOK1\r"}, []string{"OK1"}, Stats{Lines: 2, Codes: 1, Noise: 1}},
		{"LF framing with CRLF scanner is noise", func(c *Config) { c.Terminator = LF }, []string{"HQR0001\r\n"}, nil, Stats{Lines: 1, Noise: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dev := plug(t, "")
			h := startScan(t, testConfig(dev.slave.Name(), tc.mut), Options{})
			h.dev = dev
			var got []string
			for _, c := range tc.chunks {
				got = append(got, h.send(c)...)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("codes = %q, want %q", got, tc.want)
			}
			if st := h.s.Stats(); st.Stats != tc.stats || !st.Open || st.Opens != 1 {
				t.Errorf("stats = %+v, want %+v, open once", st, tc.stats)
			}
			h.cancel()
			if err := h.stopped(); err != nil {
				t.Fatalf("Scan after cancel = %v, want nil", err)
			}
			if h.s.Stats().Open {
				t.Fatal("port still open after Scan returned")
			}
		})
	}
}

func TestSerialSendsCodesWithTheScanTimeAndPort(t *testing.T) {
	clk := clock.NewFake(epoch)
	dev := plug(t, "")
	h := startScan(t, testConfig(dev.slave.Name(), nil), Options{Clock: clk})
	h.dev = dev
	if _, err := dev.master.Write([]byte("HQR0001\r")); err != nil {
		t.Fatal(err)
	}
	got := h.next()
	want := Code{Text: "HQR0001", At: epoch, Source: dev.slave.Name()}
	if got != want {
		t.Fatalf("code = %+v, want %+v", got, want)
	}
}

func TestSerialSuppressesARereadWithinTheWindowOnly(t *testing.T) {
	clk := clock.NewFake(epoch)
	dev := plug(t, "")
	h := startScan(t, testConfig(dev.slave.Name(), func(c *Config) { c.Dedupe = time.Second }), Options{Clock: clk})
	h.dev = dev
	steps := []struct {
		advance time.Duration
		want    []string
	}{
		{0, []string{"HQR0001"}},
		{500 * time.Millisecond, nil},          // still in front of the scanner
		{999 * time.Millisecond, nil},          // the window slides with each read
		{time.Second, []string{"HQR0001"}},     // a full window after the last read
		{10 * time.Millisecond, nil},           // and suppressed again
		{5 * time.Second, []string{"HQR0001"}}, // long after
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if got := h.send("HQR0001\r"); !slices.Equal(got, s.want) {
			t.Fatalf("step %d (+%s): codes = %q, want %q", i, s.advance, got, s.want)
		}
	}
	if st := h.s.Stats(); st.Codes != 3 || st.Duplicates != 3 {
		t.Fatalf("stats = %+v, want 3 codes and 3 duplicates", st)
	}
}

func TestSerialLogsNeverHoldTheCode(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const code = "HQR-PATIENT-0001"
	dev := plug(t, "")
	h := startScan(t, testConfig(dev.slave.Name(), func(c *Config) { c.Dedupe = time.Second }), Options{Clock: clock.NewFake(epoch), Logger: log})
	h.dev = dev
	if got := h.send(code + "\r" + code + "\r\x00" + code + "\r" + code[:10]); len(got) != 1 {
		t.Fatalf("codes = %q, want one", got)
	}
	dev.unplug()
	if err := h.stopped(); !errors.Is(err, ErrUnplugged) {
		t.Fatalf("Scan = %v", err)
	}
	out := logs.String()
	for _, want := range []string{"scanner port opened", "code read", "len=16", "hash=" + shortHash(code), "repeated code suppressed", "noise", "scanner port lost"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PATIEN") {
		t.Fatalf("log holds code text:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSerialScanReportsUnplugAndDropsTheHalfLine(t *testing.T) {
	dev := plug(t, "")
	h := startScan(t, testConfig(dev.slave.Name(), nil), Options{})
	h.dev = dev
	if got := h.send("HQR0001\rHQR00"); !slices.Equal(got, []string{"HQR0001"}) {
		t.Fatalf("codes = %q", got)
	}
	dev.unplug()
	err := h.stopped()
	if !errors.Is(err, ErrUnplugged) {
		t.Fatalf("Scan after unplug = %v, want ErrUnplugged", err)
	}
	st := h.s.Stats()
	if st.HalfLines != 1 || st.Unplugs != 1 || st.Open {
		t.Fatalf("stats = %+v, want one half line, one unplug, closed", st)
	}
}

func TestSerialScanCannotOpen(t *testing.T) {
	dir := t.TempDir()
	notTTY := filepath.Join(dir, "file")
	if err := os.WriteFile(notTTY, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, port := range map[string]string{
		"absent":       filepath.Join(dir, "ttyUSB9"),
		"dangling":     filepath.Join(dir, "scanner"), // a udev link whose device is gone
		"not a serial": notTTY,
	} {
		t.Run(name, func(t *testing.T) {
			if name == "dangling" {
				if err := os.Symlink(filepath.Join(dir, "gone"), port); err != nil {
					t.Fatal(err)
				}
			}
			s, err := New(testConfig(port, nil), Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Scan(context.Background(), make(chan Code))
			if !errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), port) {
				t.Fatalf("Scan = %v, want ErrOpen naming the port", err)
			}
			if st := s.Stats(); st.OpenFailures != 1 || st.Opens != 0 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

func TestSerialOneScanAtATime(t *testing.T) {
	dev := plug(t, "")
	h := startScan(t, testConfig(dev.slave.Name(), nil), Options{})
	h.dev = dev
	h.send("A1\r") // the first Scan holds the port once it has read
	err := h.s.Scan(context.Background(), make(chan Code))
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("second Scan = %v, want ErrBusy", err)
	}
}

func TestSerialScanWithEndedContextOpensNothing(t *testing.T) {
	dev := plug(t, "")
	s, err := New(testConfig(dev.slave.Name(), nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Scan(ctx, nil); err != nil {
		t.Fatalf("Scan = %v, want nil", err)
	}
	if st := s.Stats(); st.Opens != 0 {
		t.Fatalf("opened %d times", st.Opens)
	}
}

// waitTimer waits until the code under test is blocked on clk.
func waitTimer(t *testing.T, clk *clock.Fake, h *harness) {
	t.Helper()
	select {
	case <-clk.WaiterAdded():
	case err := <-h.done:
		t.Fatalf("Run returned %v", err)
	case <-time.After(patience):
		t.Fatal("Run did not wait to reopen")
	}
}

func TestSerialRunReopensAReplugedScannerWithoutRestart(t *testing.T) {
	clk := clock.NewFake(epoch)
	link := filepath.Join(t.TempDir(), "scanner")
	first := plug(t, link)
	cfg := testConfig(link, func(c *Config) { c.ReopenMin, c.ReopenMax = time.Second, 4*time.Second })
	h := startRun(t, cfg, clk)

	h.dev = first
	if got := h.send("HQR0001\r"); !slices.Equal(got, []string{"HQR0001"}) {
		t.Fatalf("first device: codes = %q", got)
	}
	h.send("HQR00") // half a code, then the cable is pulled
	first.unplug()

	// Run keeps trying while nothing is there.
	waitTimer(t, clk, h)
	for range 3 {
		clk.Advance(cfg.ReopenMax)
		waitTimer(t, clk, h)
	}
	if st := h.s.Stats(); st.Unplugs != 1 || st.OpenFailures != 3 || st.Open || st.HalfLines != 1 {
		t.Fatalf("while unplugged: stats = %+v, want 1 unplug, 3 failed opens, 1 half line", st)
	}

	// Plugged back: udev points the name at the new device.
	second := plug(t, link)
	clk.Advance(cfg.ReopenMax)
	h.dev, h.written = second, 0
	h.read.Store(0)
	got := h.send("HQR0002\r")
	if !slices.Equal(got, []string{"HQR0002"}) {
		t.Fatalf("after replug: codes = %q, want [HQR0002] (no leftover half line)", got)
	}

	// The name moved to another device while the port was quiet: the
	// scanner notices at its next read timeout and follows the name.
	third := plug(t, link)
	waitTimer(t, clk, h)
	clk.Advance(cfg.ReopenMax)
	h.dev, h.written = third, 0
	h.read.Store(0)
	if got := h.send("HQR0003\r"); !slices.Equal(got, []string{"HQR0003"}) {
		t.Fatalf("after the name moved: codes = %q", got)
	}
	if st := h.s.Stats(); st.Opens != 3 || st.Unplugs != 2 || !st.Open {
		t.Fatalf("stats = %+v, want 3 opens, 2 unplugs, open", st)
	}

	h.cancel()
	if err := h.stopped(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}

func TestSerialRunStopsWhileWaitingToReopen(t *testing.T) {
	clk := clock.NewFake(epoch)
	h := startRun(t, testConfig(filepath.Join(t.TempDir(), "absent"), nil), clk)
	waitTimer(t, clk, h)
	h.cancel()
	if err := h.stopped(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}
