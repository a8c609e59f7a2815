package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
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
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
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

// Run starts the sandbox's two counterparties (the insurance platform and
// the payment channel, each on its own loopback listener) and a medterm
// daemon as a child process, plays the day through the daemon's API and
// CLI, prints every receipt, holds the journal against both ledgers, and
// stops everything it started.
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
	// The institution's tif token: hex digits, so that the agent's
	// token_file (one line of text) holds the very bytes the sandbox
	// verifies signatures with.
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := hex.EncodeToString(raw)
	if err := writeSecret(filepath.Join(o.Dir, "insurance.token"), token+"\n"); err != nil {
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

	fmt.Fprintln(out, "== starting the sandbox insurance platform (with the patients' cards and the hospital's PSAM)")
	sb, err := sandbox.Open(filepath.Join(o.Dir, "sandbox.db"), sandbox.Options{
		Personas: data, Secrets: map[string][]byte{Institution: []byte(token)}, Reset: true,
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
	fmt.Fprintf(out, "   platform at %s (tif, paasid %s)\n", platformURL+sandbox.CallPath, Institution)

	fmt.Fprintln(out, "== starting the sandbox payment channel (the patients' agreements, sources and limits)")
	channel, err := startPayChannel(ctx, o.Dir, data)
	if err != nil {
		return err
	}
	defer channel.Close()
	fmt.Fprintf(out, "   payment channel at %s (merchant %s)\n", channel.url, paychannel.MerchantID)

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
	cfg := agentConfig(agentSetup{platformURL: platformURL, paymentURL: channel.url, keys: channel.keys,
		apiAddr: apiAddr, psamReader: readers.PSAM.Name, keyID: keyID, scanner: scan.link})
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "== starting the agent: %s serve --config %s\n", o.Medterm, cfgFile)
	daemon, err := startAgent(ctx, o.Medterm, cfgFile, filepath.Join(o.Dir, "medterm.log"))
	if err != nil {
		return err
	}
	defer daemon.stop(out)
	apiToken, err := waitReady(ctx, daemon, apiAddr, filepath.Join(o.Dir, "api.token"))
	if err != nil {
		return err
	}
	cli := api.NewClient(apiAddr, apiToken)
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
	fmt.Fprintf(out, "\n== both ledgers at the end of the day\n")
	insLedger, err := sb.Ledger(ctx)
	if err != nil {
		return err
	}
	payLedger, err := channel.ch.Ledger()
	if err != nil {
		return err
	}
	books, err := CheckBooks(ctx, cli, insLedger, payLedger)
	if err != nil {
		return err
	}
	fmt.Fprint(out, indent(books.String()))
	if n := Failed(results); n > 0 {
		return fmt.Errorf("%d of %d scenarios did not show what they must", n, len(results))
	}
	if !books.Balanced() {
		return fmt.Errorf("the day does not reconcile: %s", strings.Join(books.Problems, "; "))
	}
	fmt.Fprintf(out, "\n== %d scenarios played; every receipt balances to the fen, and both ledgers with the journal\n", len(results))
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

// agentSetup is what the agent's configuration names.
type agentSetup struct {
	platformURL, paymentURL string
	keys                    paychannel.Keys
	apiAddr, psamReader     string
	keyID                   byte
	scanner                 string
}

// agentConfig is the agent's configuration, in the demo's directory
// beside the token file it names.
func agentConfig(s agentSetup) string {
	return fmt.Sprintf(`# written by medterm-sandbox demo
[insurance]
url = %q
auth = "tif"
paasid = %q
token_file = "insurance.token"
recer_sys_code = "MBS_LOCAL"
retry_window = "10s"
connect_window = "1s"

[payment]
enabled = true
url = %q
merchant_id = %q
tr_id = %q
key_file = %q
channel_key_file = %q

[evoucher]
url = %q

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
`, s.platformURL+sandbox.CallPath, Institution, s.paymentURL, paychannel.MerchantID, paychannel.TokenRequestor,
		s.keys.MerchantKeyFile, s.keys.ChannelPubFile, s.platformURL+sandbox.ECQueryPath,
		Institution, s.apiAddr, s.psamReader, s.keyID, s.scanner)
}

// writeSecret writes a secret file the agent accepts: one line, mode 0600.
func writeSecret(path, body string) error {
	_ = os.Remove(path) // a kept directory from an earlier run
	return os.WriteFile(path, []byte(body), 0o600)
}

// payChannel is the sandbox's payment channel served on a loopback
// listener of its own: a counterparty apart from the platform, which the
// outage does not take away.
type payChannel struct {
	ch   *paychannel.Channel
	keys paychannel.Keys
	srv  *http.Server
	url  string // the agent's [payment] url
}

func startPayChannel(ctx context.Context, dir string, data *personas.Dataset) (*payChannel, error) {
	keys, err := paychannel.LoadOrMakeKeys(filepath.Join(dir, "payment-keys"))
	if err != nil {
		return nil, err
	}
	ch, err := paychannel.Open(filepath.Join(dir, "paychannel.db"), paychannel.Options{
		Key: keys.Channel, Merchants: map[string]*ecdsa.PublicKey{paychannel.MerchantID: keys.Merchant},
		Personas: data, Reset: true, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("payment channel: %w", err)
	}
	p := &payChannel{ch: ch, keys: keys, url: "http://" + ln.Addr().String() + paychannel.BasePath,
		srv: &http.Server{Handler: ch.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops serving and closes the channel's state file.
func (p *payChannel) Close() error {
	_ = p.srv.Close()
	return p.ch.Close()
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
