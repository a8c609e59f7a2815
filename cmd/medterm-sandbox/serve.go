package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

type serveFlags struct {
	addr, state, secrets, personas, addrFile, logLevel string
	auth                                               string
	sessionTTL                                         time.Duration
	reset, allowRemote                                 bool
	vpcd                                               []string
	vpcdPSAM                                           string
	// The payment channel, the second counterparty, on its own listener.
	payAddr, payState, payKeys, payAddrFile string
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --state FILE --secrets FILE",
		Short: "Serve the insurance platform and the payment channel until SIGINT or SIGTERM",
		Long: `serve opens (or creates and seeds) the state files and answers, on two
loopback listeners, the two counterparties of every settlement:

  the insurance platform: the national interface's transactions, posted
  to ` + sandbox.CallPath + ` (the gateway's one URL), authenticated by
  tif: the paasid is the institution code, and the token is the
  institution's secret in --secrets (hex there; the agent's [insurance]
  token_file holds it as text, one line: "medterm-sandbox secrets" writes
  both). Also the e-voucher component at ` + sandbox.ECQueryPath + `.

  the payment channel: UnionPay ACP messages under ` + paychannel.BasePath + `,
  SM2-signed both ways with the keys in --pay-keys (made on first use:
  payment.key is the agent's [payment] key_file, channel.pub its
  channel_key_file; merchant_id ` + paychannel.MerchantID + `, tr_id ` + paychannel.TokenRequestor + `).

It prints the two bound addresses on standard output, the platform's on
the first line and the channel's on the second, so that a script using
port 0 can find them, and with --addr-file and --pay-addr-file also writes
each to a file (atomically). Logs go to standard error. SIGINT or SIGTERM
stop both after the requests in flight.

With --vpcd it also holds the patients' cards: "medterm-sandbox card"
inserts a persona's card into a vpcd reader (pcscd with vsmartcard-vpcd),
and --vpcd-psam puts the hospital's PSAM, keyed for the sandbox's 3.0
cards, into the second reader.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Sprintf("serve takes no arguments, got %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:0", "the insurance platform's listen address (loopback only unless --allow-remote; port 0 picks one)")
	fl.StringVar(&f.state, "state", "", "the insurance platform's state file (bbolt; created and seeded if missing)")
	fl.StringVar(&f.secrets, "secrets", "", `institution secrets file, {"H44190000001": "<hex>"}, mode 0600: each institution's tif token, hex-encoded (its paasid is its code)`)
	fl.StringVar(&f.auth, "auth", "tif", "the gateway's transport profile: tif, or none for a front-end machine (oauth_sm needs keys: tests configure it in-process)")
	fl.StringVar(&f.personas, "personas", "", "persona data file (default: the built-in data set)")
	fl.StringVar(&f.addrFile, "addr-file", "", "write the insurance platform's bound address to this file")
	fl.StringVar(&f.payAddr, "pay-addr", "127.0.0.1:0", "the payment channel's listen address (loopback only)")
	fl.StringVar(&f.payState, "pay-state", "", "the payment channel's state file (default: paychannel.db beside --state)")
	fl.StringVar(&f.payKeys, "pay-keys", "", "directory of the payment channel's and the merchant's SM2 keys, made there on first use (default: payment-keys beside --state)")
	fl.StringVar(&f.payAddrFile, "pay-addr-file", "", "write the payment channel's bound address to this file")
	fl.DurationVar(&f.sessionTTL, "session-ttl", sandbox.DefaultSessionTTL, "life of a 9001 sign-in session")
	fl.BoolVar(&f.reset, "reset", false, "wipe both state files and seed them again from the personas")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "accept non-loopback listen addresses and hosts for the insurance platform (admin endpoints stay loopback-only; the payment channel stays loopback-only)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringArrayVar(&f.vpcd, "vpcd", nil, "vpcd card reader for the patients' cards, e.g. 127.0.0.1:35963 (repeat for readers 1, 2, ...)")
	fl.StringVar(&f.vpcdPSAM, "vpcd-psam", "", "vpcd reader that holds the hospital's PSAM while serving, e.g. 127.0.0.1:35964")
	return cmd
}

func serve(cmd *cobra.Command, f *serveFlags) error {
	if f.state == "" || f.secrets == "" {
		return usageError{"serve needs --state and --secrets"}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError{fmt.Sprintf("--log-level %q: %v", f.logLevel, err)}
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	if f.payState == "" {
		f.payState = filepath.Join(filepath.Dir(f.state), "paychannel.db")
	}
	if f.payKeys == "" {
		f.payKeys = filepath.Join(filepath.Dir(f.state), "payment-keys")
	}
	if filepath.Clean(f.payState) == filepath.Clean(f.state) {
		return usageError{"--pay-state must not be the insurance platform's --state"}
	}
	// The channel debits patients' cards and is played on this machine
	// only, whatever --allow-remote says of the platform.
	if !loopbackListen(f.payAddr) {
		return fmt.Errorf("%w: --pay-addr %q is not a loopback address", sandbox.ErrOptions, f.payAddr)
	}

	secrets, err := protocol.LoadSecrets(f.secrets)
	if err != nil {
		return err
	}
	if f.auth == "tif" {
		for code, s := range secrets {
			if !tokenText(s) {
				log.Warn("this institution's secret is not printable text, so no agent's token_file can hold it as its tif token: make one with medterm-sandbox secrets", "institution", code)
			}
		}
	}
	data, err := loadPersonas(f.personas)
	if err != nil {
		return err
	}
	p, err := sandbox.Open(f.state, sandbox.Options{
		Personas: data, Secrets: secrets, SessionTTL: f.sessionTTL, Auth: f.auth,
		Reset: f.reset, AllowRemote: f.allowRemote, Logger: log,
		CardReaders: f.vpcd, PSAMReader: f.vpcdPSAM,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	keys, err := paychannel.LoadOrMakeKeys(f.payKeys)
	if err != nil {
		return fmt.Errorf("%w: --pay-keys: %v", paychannel.ErrOptions, err)
	}
	ch, err := paychannel.Open(f.payState, paychannel.Options{
		Key: keys.Channel, Merchants: map[string]*ecdsa.PublicKey{paychannel.MerchantID: keys.Merchant},
		Personas: data, Reset: f.reset, Logger: log.With("side", "payment channel"),
	})
	if err != nil {
		return err
	}
	defer ch.Close()

	srv, err := sandbox.Listen(p, f.addr)
	if err != nil {
		return err
	}
	pay, err := listenPayChannel(ch, f.payAddr, log)
	if err != nil {
		return err
	}
	addr, payAddr := srv.Addr().String(), pay.ln.Addr().String()
	for _, af := range []struct{ flag, file, addr string }{{"--addr-file", f.addrFile, addr}, {"--pay-addr-file", f.payAddrFile, payAddr}} {
		if af.file == "" {
			continue
		}
		if err := writeFileAtomic(af.file, []byte(af.addr+"\n")); err != nil {
			return fmt.Errorf("%s: %w", af.flag, err)
		}
		defer os.Remove(af.file)
	}
	fmt.Fprintln(cmd.OutOrStdout(), addr)
	fmt.Fprintln(cmd.OutOrStdout(), payAddr)
	log.Info("insurance platform", "url", "http://"+addr+sandbox.CallPath, "auth", f.auth)
	// Absolute: an agent's configuration resolves relative paths against
	// its own directory, not this one.
	keyFile, _ := filepath.Abs(keys.MerchantKeyFile)
	chFile, _ := filepath.Abs(keys.ChannelPubFile)
	log.Info("payment channel", "url", "http://"+payAddr+paychannel.BasePath, "merchant_id", paychannel.MerchantID,
		"tr_id", paychannel.TokenRequestor, "key_file", keyFile, "channel_key_file", chFile)

	// Both serve until ctx ends; one that fails stops the other, so that
	// the sandbox never runs half.
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Run(ctx) }()
	go func() { errc <- pay.run(ctx) }()
	first := <-errc
	cancel()
	return errors.Join(first, <-errc)
}

// tokenText reports whether a secret can be an agent's tif token: the
// agent reads its token_file as one line of text, trimmed.
func tokenText(s []byte) bool {
	str := string(s)
	if strings.TrimSpace(str) != str {
		return false
	}
	for _, r := range str {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || r == ' ' {
			return false
		}
	}
	return true
}

func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// payServer serves the payment channel. The sandbox's own server type
// serves only the platform, so this is its twin for the channel's handler,
// with the same graceful stop.
type payServer struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

func listenPayChannel(ch *paychannel.Channel, addr string, log *slog.Logger) (*payServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --pay-addr: listen: %v", paychannel.ErrOptions, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", ch.Handler())
	// What the admin clients and scripts poll, as on the platform's side.
	mux.HandleFunc("GET /admin/health", func(w http.ResponseWriter, r *http.Request) {
		if err := ch.Health(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	})
	return &payServer{ln: ln, log: log, srv: &http.Server{
		Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

func (s *payServer) run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("payment channel: serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("payment channel: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("payment channel: serve: %w", err)
	}
	s.log.Info("payment channel stopped")
	return nil
}

func loadPersonas(path string) (*personas.Dataset, error) {
	if path == "" {
		return personas.Default()
	}
	return personas.Load(path)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed, so a reader sees no file or the whole
// file, never half of it.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
