// Package killtest drives the kill test of the medterm daemon: it builds
// the real binary, runs it as a child process in front of the sandbox's
// insurance platform and payment channel, loads it from concurrent API clients that behave as a
// hospital's HIS does, kills it with SIGKILL at random moments, and keeps
// the book of what every client was told, so that the insurance
// platform's ledger and the payment channel's can be compared with it to
// the fen once everything is drained.
package killtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/sync/heldport"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
)

// Build compiles the medterm command in pkgDir into dir and returns the
// binary's path.
func Build(ctx context.Context, pkgDir, dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoGo, err)
	}
	bin := filepath.Join(dir, "medterm")
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".")
	cmd.Dir = pkgDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build medterm: %w\n%s", err, out.String())
	}
	return bin, nil
}

// Setup is what the daemon's configuration file names.
type Setup struct {
	PlatformURL string // the insurance gateway's one URL
	Institution string // also the tif paasid
	Token       string // the institution's tif token
	APIAddr     string // host:port, the same on every start
	Terminal    string // dev_no
	Slot        int
	// JournalPath is where the journal lives (another filesystem, for the
	// disk tests); "journal.db" in dir if empty.
	JournalPath string
	// Payment is the payment channel; nil: none, and every patient's part
	// is pending, to be paid at the window.
	Payment *PaymentSetup
	// Offline is more lines of [offline] (the deferral limits of a
	// benchmark's backlog); Concurrency the forwarder's (default 4).
	Offline     string
	Concurrency int
	// Patient gives the platform longer before it counts as unreachable
	// (a test about something else on a loaded machine); the kill test
	// keeps the short windows that turn lost answers into doubt quickly.
	Patient bool
}

// PaymentSetup is the daemon's [payment] section: the channel's base URL
// and the key files (the merchant's private key, the channel's public
// key), as the sandbox channel's keys directory holds them.
type PaymentSetup struct {
	URL, KeyFile, ChannelKeyFile string
}

// WriteConfig writes the daemon's configuration and its tif token file
// into dir and returns the configuration file's path. Everything the
// daemon keeps (journal, key, token, archive) lives in dir, so that a
// restart finds it. Timeouts are short: both counterparties are on
// loopback, and a lost answer must turn into an in-doubt settlement (or a
// payment to query) within a cycle.
func WriteConfig(dir string, s Setup) (string, error) {
	if s.JournalPath == "" {
		s.JournalPath = "journal.db"
	}
	if s.Concurrency == 0 {
		s.Concurrency = 4
	}
	if s.Token == "" || strings.ContainsAny(s.Token, "\r\n") || strings.TrimSpace(s.Token) != s.Token {
		return "", fmt.Errorf("the tif token %q cannot be one line of a token file", s.Token)
	}
	if err := os.WriteFile(filepath.Join(dir, "insurance.token"), []byte(s.Token+"\n"), 0o600); err != nil {
		return "", err
	}
	payment := "[payment]\nenabled = false\n"
	if p := s.Payment; p != nil {
		payment = fmt.Sprintf(`[payment]
enabled = true
url = %q
merchant_id = %q
tr_id = %q
key_file = %q
channel_key_file = %q
attempt_timeout = "2s"
attempts = 2
resend_delay = "20ms"
`, p.URL, paychannel.MerchantID, paychannel.TokenRequestor, p.KeyFile, p.ChannelKeyFile)
	}
	windows := "attempt_timeout = \"2s\"\nretry_window = \"1s\"\nconnect_window = \"500ms\"\n"
	if s.Patient {
		windows = "attempt_timeout = \"5s\"\nretry_window = \"5s\"\nconnect_window = \"3s\"\n"
	}
	body := fmt.Sprintf(`[insurance]
url = %q
auth = "tif"
paasid = %q
token_file = "insurance.token"
recer_sys_code = "MBS_LOCAL"
%s
%s
[institution]
code = %q
name = "kill test hospital"
region = "441900"

[terminal]
id = %q
slot = %d

[journal]
path = %q
key_file = "keys/journal.key"

[api]
addr = %q
token_file = "api.token"

[cards]
enabled = false

[offline]
in_doubt_window = "1m"
%s
[forwarder]
concurrency = %d
min_backoff = "50ms"
max_backoff = "500ms"
breaker_threshold = 3
breaker_cooldown = "300ms"

[reconcile]
daily_at = ""

[retention]
archive_file = "archive.db"

[log]
level = "warn"
`, s.PlatformURL, s.Institution, windows, payment, s.Institution, s.Terminal, s.Slot, s.JournalPath, s.APIAddr, s.Offline, s.Concurrency)
	path := filepath.Join(dir, "medterm.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// FreeAddr returns a loopback address whose port is free now; the daemon
// binds it on every start. It lies below the ephemeral range
// (heldport.Static), so that no outgoing connection of another test takes
// it while the daemon is down between a kill and the next start.
func FreeAddr(seed uint64) (string, error) {
	addr, err := heldport.Static(mrand.New(mrand.NewPCG(seed, seed>>1)))
	if err != nil {
		return "", fmt.Errorf("the API's address: %w", err)
	}
	return addr, nil
}

// Daemon is one `medterm serve` child process.
type Daemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
	err  error // how it ended, once done is closed
}

// Start runs `bin serve --config config`, its output appended to log.
func Start(bin, config string, log io.Writer) (*Daemon, error) {
	return StartCmd(exec.Command(bin, "serve", "--config", config), log)
}

// StartCmd runs cmd, a daemon started otherwise (as an installed
// package's service user, say), its output appended to log. The daemon
// must be cmd's own process, so that Kill ends it by its pid.
func StartCmd(cmd *exec.Cmd, log io.Writer) (*Daemon, error) {
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	d := &Daemon{cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Done is closed when the process has ended and been reaped.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Stop sends SIGTERM to the daemon's pid, as systemd stops a service,
// and waits until it has finished the requests in flight and ended.
func (d *Daemon) Stop() error {
	select {
	case <-d.done:
		return d.err
	default:
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	<-d.done
	return d.err
}

// Kill sends SIGKILL to the daemon's pid and waits until it is gone. It
// reports whether the process was still running (false: it had already
// ended by itself, which Err explains).
func (d *Daemon) Kill() bool {
	alive := true
	select {
	case <-d.done:
		alive = false
	default:
	}
	d.once.Do(func() { _ = d.cmd.Process.Kill() })
	<-d.done
	return alive
}

// Err is how the process ended; only meaningful after Done.
func (d *Daemon) Err() error { return d.err }

// WaitHealthy polls /v1/health until the daemon answers, and returns the
// API token it created on its first start.
func (d *Daemon) WaitHealthy(ctx context.Context, addr, tokenFile string, within time.Duration) (string, error) {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if tok, err := os.ReadFile(tokenFile); err == nil && len(bytes.TrimSpace(tok)) >= 16 {
			token := strings.TrimSpace(string(tok))
			hctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := api.NewClient(addr, token).Do(hctx, http.MethodGet, "/v1/health", nil, nil, nil)
			cancel()
			if err == nil {
				return token, nil
			}
		}
		select {
		case <-d.done:
			return "", fmt.Errorf("%w before it was healthy: %v", ErrExited, d.err)
		case <-deadline.C:
			return "", fmt.Errorf("%w within %s", ErrNotHealthy, within)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C:
		}
	}
}

// Tail returns the last n bytes of the file at path, for a failure
// message.
func Tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	return string(b)
}
