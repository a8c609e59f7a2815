package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/devices/vpcd"
	"github.com/seed-a859fada/medterm/sync/heldport"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// RunOptions configure a demo run with real processes.
type RunOptions struct {
	Medterm string // path of the medterm binary
	Dir     string // working directory; a temporary one if empty
	Keep    bool   // keep the working directory
	Out     io.Writer
}

// Institution of the demo's hospital (in the persona data set).
const Institution = "H44190000001"

// Run starts the sandbox platform and a medterm daemon as a child process,
// plays the day through the daemon's API and CLI, prints every receipt,
// and stops everything it started.
func Run(ctx context.Context, o RunOptions) (err error) {
	out := o.Out
	if o.Dir == "" {
		o.Dir, err = os.MkdirTemp("", "medterm-demo-")
		if err != nil {
			return err
		}
		if !o.Keep {
			defer os.RemoveAll(o.Dir)
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	data, err := personas.Default()
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	secretsFile := filepath.Join(o.Dir, "secrets.json")
	_ = os.Remove(secretsFile)
	if err := protocol.WriteSecrets(secretsFile, map[string][]byte{Institution: secret}); err != nil {
		return err
	}

	fmt.Fprintln(out, "== starting the virtual card readers (pcscd + vpcd)")
	readers, err := vpcd.Start(ctx)
	if err != nil {
		return fmt.Errorf("virtual card readers: %w", err)
	}
	defer readers.Close()
	if readers.Daemon != nil {
		fmt.Fprintln(out, "   started pcscd")
	} else {
		fmt.Fprintln(out, "   using the pcscd already running")
	}
	fmt.Fprintf(out, "   desk reader %q, PSAM reader %q\n", readers.Card.Name, readers.PSAM.Name)

	fmt.Fprintln(out, "== starting the sandbox platform (with the patients' cards and the hospital's PSAM)")
	sb, err := sandbox.Open(filepath.Join(o.Dir, "sandbox.db"), sandbox.Options{
		Personas: data, Secrets: map[string][]byte{Institution: secret}, Reset: true,
		Logger:      slog.New(slog.DiscardHandler),
		CardReaders: []string{readers.Card.Addr}, PSAMReader: readers.PSAM.Addr,
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	_, keyID, _ := data.PSAMKey()
	platform, err := startPlatform(sb.Handler())
	if err != nil {
		return err
	}
	defer platform.Down(ctx)
	platformURL := "http://" + platform.addr
	fmt.Fprintf(out, "   platform at %s\n", platformURL)

	fmt.Fprintln(out, "== the kiosk's QR scanner: a pseudo-terminal")
	scan, err := newPTYScanner(filepath.Join(o.Dir, "scanner"))
	if err != nil {
		return fmt.Errorf("scanner pty: %w", err)
	}
	defer scan.Close()
	fmt.Fprintf(out, "   %s -> %s\n", scan.link, scan.slave.Name())

	apiAddr, err := agentAddr()
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(o.Dir, "medterm.toml")
	if err := os.WriteFile(cfgFile, []byte(agentConfig(platformURL+sandbox.CallPath, apiAddr, readers.PSAM.Name, keyID, scan.link)), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "== starting the agent: %s serve --config %s\n", o.Medterm, cfgFile)
	daemon, err := startAgent(ctx, o.Medterm, cfgFile, filepath.Join(o.Dir, "medterm.log"))
	if err != nil {
		return err
	}
	defer daemon.stop(out)
	token, err := waitReady(ctx, daemon, apiAddr, filepath.Join(o.Dir, "api.token"))
	if err != nil {
		return err
	}
	cli := api.NewClient(apiAddr, token)
	fmt.Fprintf(out, "   agent API at %s\n", apiAddr)

	results, err := Play(ctx, Env{API: cli, Personas: data, KeyPrefix: fmt.Sprintf("demo-%d-", time.Now().Unix()),
		Settle: windowCLI(o.Medterm, cfgFile, o.Dir), Cards: SandboxCards{Rack: sb.Cards()},
		Platform: platform,
		Scanner:  scan, ScanDedupe: time.Second,
		Phone: func(ctx context.Context, persona string) (string, error) {
			c, err := sb.Code(ctx, persona)
			return c.Text, err
		},
		Drain: func(ctx context.Context) error {
			return runCLI(ctx, out, o.Medterm, "sync", "now", "--config", cfgFile, "--timeout", "60s")
		},
		Reconcile: func(ctx context.Context) (agent.Report, error) {
			_ = runCLI(ctx, out, o.Medterm, "status", "--config", cfgFile)
			_ = runCLI(ctx, out, o.Medterm, "reconcile", "--config", cfgFile) // prints; exit 9 on differences
			var rep agent.Report
			_, err := cli.Do(ctx, http.MethodGet, "/v1/reconcile/last", nil, nil, &rep)
			return rep, err
		},
	}, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== the window's journal (medterm journal list)\n")
	list := exec.CommandContext(ctx, o.Medterm, "journal", "list", "--config", cfgFile)
	list.Stdout, list.Stderr = out, out
	if err := list.Run(); err != nil {
		return fmt.Errorf("journal list: %w", err)
	}
	if n := Failed(results); n > 0 {
		return fmt.Errorf("%d of %d scenarios did not show what they must", n, len(results))
	}
	fmt.Fprintf(out, "\n== %d scenarios played; every receipt balances to the fen\n", len(results))
	return nil
}

// runCLI runs a medterm command with its output shown.
func runCLI(ctx context.Context, out io.Writer, bin string, args ...string) error {
	fmt.Fprintf(out, "$ medterm %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	return cmd.Run()
}

// platformServer is the sandbox's HTTP side, which the demo can take away
// (connections refused, as when the network is down) and bring back on
// the same address, held meanwhile so that nothing else takes it.
type platformServer struct {
	handler http.Handler
	port    *heldport.Port
	addr    string
	mu      sync.Mutex
	srv     *http.Server
}

func startPlatform(h http.Handler) (*platformServer, error) {
	port, err := heldport.Reserve()
	if err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	p := &platformServer{handler: h, port: port, addr: port.Addr()}
	if err := p.Up(context.Background()); err != nil {
		port.Close()
		return nil, err
	}
	return p, nil
}

// Up serves on the platform's address.
func (p *platformServer) Up(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		return nil
	}
	ln, err := p.port.Listen()
	if err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	p.srv = &http.Server{Handler: p.handler, ReadHeaderTimeout: 10 * time.Second}
	go func(s *http.Server) { _ = s.Serve(ln) }(p.srv)
	return nil
}

// Down stops serving: new connections are refused.
func (p *platformServer) Down(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil {
		return nil
	}
	err := p.srv.Close()
	p.srv = nil
	return err
}

func agentConfig(platformURL, apiAddr, psamReader string, keyID byte, scannerPort string) string {
	return fmt.Sprintf(`# written by medterm-sandbox demo
[platform]
url = %q
secrets_file = "secrets.json"
retry_window = "10s"
connect_window = "1s"

[institution]
code = %q
name = "Dongguan People's Hospital (sandbox)"
region = "441900"

[terminal]
id = "DESK01"
slot = 1

[journal]
path = "journal.db"
key_file = "keys/journal.key"

[api]
addr = %q
token_file = "api.token"

[forwarder]
breaker_cooldown = "2s"

[cards]
enabled = true
psam_reader = %q
key_id = %d

[scanner]
enabled = true
port = %q
terminator = "CR"

[log]
level = "info"
`, platformURL, Institution, apiAddr, psamReader, keyID, scannerPort)
}

// agentAddr is the agent's API address. The agent binds it itself, after
// this process has let it go: drawn below the ephemeral range, no
// outgoing connection can take it in between.
func agentAddr() (string, error) {
	var seed [16]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return "", err
	}
	return heldport.Static(mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))))
}

type child struct {
	cmd  *exec.Cmd
	done chan error
}

func startAgent(ctx context.Context, bin, cfg, logFile string) (*child, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait(); lf.Close() }()
	return c, nil
}

// stop ends the agent by its pid with SIGTERM, and kills it if it does not
// stop within ten seconds.
func (c *child) stop(out io.Writer) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		fmt.Fprintln(out, "== agent stopped")
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		fmt.Fprintln(out, "== agent killed: it did not stop within 10s")
	}
}

// waitReady waits for the agent's API to answer, or for the agent to exit.
func waitReady(ctx context.Context, c *child, addr, tokenFile string) (string, error) {
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-c.done:
			return "", fmt.Errorf("the agent exited at start-up (%v); see its log", err)
		case <-deadline:
			return "", errors.New("the agent did not answer within 20s")
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C:
		}
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			continue
		}
		cl := api.NewClient(addr, strings.TrimSpace(string(tok)))
		if _, err := cl.Do(ctx, http.MethodGet, "/v1/health", nil, nil, nil); err == nil {
			return strings.TrimSpace(string(tok)), nil
		}
	}
}

// windowCLI settles through `medterm settle`, as window staff do.
func windowCLI(bin, cfg, dir string) func(ctx context.Context, key string, body api.SettleBody) (api.SettlementView, error) {
	return func(ctx context.Context, key string, body api.SettleBody) (api.SettlementView, error) {
		var v api.SettlementView
		billFile := filepath.Join(dir, key+".bill.json")
		b, err := json.MarshalIndent(body.Bill, "", "  ")
		if err != nil {
			return v, err
		}
		if err := os.WriteFile(billFile, b, 0o600); err != nil {
			return v, err
		}
		cmd := exec.CommandContext(ctx, bin, "settle", "--config", cfg, "--json", "--key", key,
			"--id-no", body.Identity.CertNo, "--operator", body.Operator.ID, "--operator-name", body.Operator.Name, "--bill", billFile)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 4) { // 4: not settled, still a result
			return v, fmt.Errorf("medterm settle: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
		if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
			return v, fmt.Errorf("medterm settle --json output: %w", err)
		}
		return v, nil
	}
}

// SandboxCards is the desk reader's slot of the sandbox's card rack.
type SandboxCards struct{ Rack *cards.Rack }

// Insert puts the persona's card into reader 0.
func (c SandboxCards) Insert(_ context.Context, persona string) error {
	_, err := c.Rack.Insert(persona, 0, cards.Faults{})
	return err
}

// Remove takes the card out of reader 0.
func (c SandboxCards) Remove(context.Context) error {
	_, err := c.Rack.Remove(0)
	return err
}

// ptyScanner is a pseudo-terminal standing in for the kiosk's serial QR
// scanner: the agent opens the slave through a symlink, as udev names a
// real scanner, and a shown code is written to the master with the
// scanner's CR.
type ptyScanner struct {
	master, slave *os.File
	link          string
}

func newPTYScanner(link string) (*ptyScanner, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, err
	}
	_ = os.Remove(link)
	if err := os.Symlink(slave.Name(), link); err != nil {
		master.Close()
		slave.Close()
		return nil, err
	}
	return &ptyScanner{master: master, slave: slave, link: link}, nil
}

// Show writes one code as the scanner would.
func (p *ptyScanner) Show(_ context.Context, text string) error {
	_, err := p.master.Write([]byte(text + "\r"))
	return err
}

func (p *ptyScanner) Close() error {
	p.slave.Close()
	return p.master.Close()
}
