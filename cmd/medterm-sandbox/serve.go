package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

type serveFlags struct {
	addr, state, secrets, personas, addrFile, logLevel string
	auth                                               string
	sessionTTL                                         time.Duration
	reset, allowRemote                                 bool
	vpcd                                               []string
	vpcdPSAM                                           string
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --state FILE --secrets FILE",
		Short: "Serve the platform until SIGINT or SIGTERM",
		Long: `serve opens (or creates and seeds) the state file and answers the
protocol's transactions on a loopback address. It prints the bound address
on standard output, so that a script using port 0 can find it, and with
--addr-file also writes it to a file (atomically). Logs go to standard
error. SIGINT or SIGTERM stop it after the requests in flight. Transactions
are posted to ` + sandbox.CallPath + `, the gateway's one URL.

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
	fl.StringVar(&f.addr, "addr", "127.0.0.1:0", "listen address (loopback only unless --allow-remote; port 0 picks one)")
	fl.StringVar(&f.state, "state", "", "state file (bbolt; created and seeded if missing)")
	fl.StringVar(&f.secrets, "secrets", "", `institution secrets file, {"H44190000001": "<hex>"}, mode 0600: each institution's tif token (its paasid is its code)`)
	fl.StringVar(&f.auth, "auth", "tif", "the gateway's transport profile: tif, or none for a front-end machine (oauth_sm needs keys: tests configure it in-process)")
	fl.StringVar(&f.personas, "personas", "", "persona data file (default: the built-in data set)")
	fl.StringVar(&f.addrFile, "addr-file", "", "write the bound address to this file")
	fl.DurationVar(&f.sessionTTL, "session-ttl", sandbox.DefaultSessionTTL, "life of a 9001 sign-in session")
	fl.BoolVar(&f.reset, "reset", false, "wipe the state file and seed it again from the personas")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "accept non-loopback listen addresses and hosts (admin endpoints stay loopback-only)")
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

	secrets, err := protocol.LoadSecrets(f.secrets)
	if err != nil {
		return err
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
	srv, err := sandbox.Listen(p, f.addr)
	if err != nil {
		return err
	}
	addr := srv.Addr().String()
	if f.addrFile != "" {
		if err := writeFileAtomic(f.addrFile, []byte(addr+"\n")); err != nil {
			return fmt.Errorf("--addr-file: %w", err)
		}
		defer os.Remove(f.addrFile)
	}
	fmt.Fprintln(cmd.OutOrStdout(), addr)
	return srv.Run(cmd.Context())
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
