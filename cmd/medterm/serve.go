package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/atomicfile"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/agent/metrics"
	"github.com/seed-a859fada/medterm/agent/supervise"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/psam"
	"github.com/seed-a859fada/medterm/devices/scanner"
	"github.com/seed-a859fada/medterm/devices/sscard"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/evoucher"
	"github.com/seed-a859fada/medterm/sync/forward"
	"github.com/seed-a859fada/medterm/sync/insurance"
	"github.com/seed-a859fada/medterm/sync/unionpay"
)

func newServeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the agent daemon",
		Long: `Run the agent: open the journal, connect to the insurance platform and the
payment channel, and serve the local API until SIGINT or SIGTERM. A second signal exits at once; nothing is
lost either way, because every settlement is journaled before it is sent or
answered.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(g.configPath)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
}

func serve(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	tuneGC()
	log, closeLog := daemonLogger(cfg.Log, stderr, platformLog())
	defer closeLog()
	jopts := journal.Options{
		KeyFile: cfg.Journal.KeyFile, Institution: cfg.Institution.Code, Slot: cfg.Terminal.Slot,
		IDPrefix: cfg.Terminal.ID, Logger: log,
	}
	j, err := openJournal(cfg.Journal.Path, jopts, log)
	if err != nil {
		return err
	}
	defer j.Close()
	bus := events.New(events.Options{Buffer: cfg.API.EventBuffer})
	var kick func() // set once the forwarder exists; the client is made first
	cc := client.Config{
		InstitutionCode: cfg.Institution.Code, InstitutionName: cfg.Institution.Name,
		Region: cfg.Institution.Region, DevNo: cfg.Terminal.ID,
		CAFile: cfg.Insurance.CAFile, CertFile: cfg.Insurance.CertFile, KeyFile: cfg.Insurance.KeyFile,
		AttemptTimeout: cfg.Insurance.AttemptTimeout.Duration, RetryWindow: cfg.Insurance.RetryWindow.Duration,
		ConnectWindow: cfg.Insurance.ConnectWindow.Duration, NextMsgid: j.AllocateMsgid, Logger: log,
		BreakerThreshold: cfg.Forwarder.BreakerThreshold, BreakerCooldown: cfg.Forwarder.BreakerCooldown.Duration,
		OnChange: func(online bool) {
			if online {
				bus.Publish(events.PlatformOnline, nil)
				if kick != nil {
					kick() // the platform is back: forward what waited for it
				}
			} else {
				bus.Publish(events.PlatformOffline, nil)
			}
		},
	}
	if err := cfg.Insurance.Apply(&cc); err != nil {
		return err
	}
	pc, err := client.New(cc)
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrConfig, err)
	}
	ins, err := insurance.New(pc, insurance.Options{Institution: cfg.Institution.Code})
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrConfig, err)
	}
	var pay agent.PaymentChannel
	var payWatched *payWatch
	if cfg.Payment.Enabled {
		payClient, err := unionpay.New(cfg.Payment, unionpay.Options{Logger: log})
		if err != nil {
			return fmt.Errorf("%w: %w", config.ErrConfig, err)
		}
		payWatched = newPayWatch(payClient, clock.Real{})
		pay = payWatched
	}
	var ev agent.EVoucher
	if cfg.EVoucher.URL != "" {
		if ev, err = evoucher.New(cfg.Institution.Code, evoucher.HTTP{URL: cfg.EVoucher.URL}); err != nil {
			return fmt.Errorf("%w: %w", config.ErrConfig, err)
		}
	}
	var desk *agent.Desk
	var services []supervise.Service
	if cfg.Cards.Enabled {
		readers := pcsc.New()
		defer readers.Close()
		ident := &sscard.Reader{KeyID: byte(cfg.Cards.KeyID)}
		skip := cfg.Cards.SkipReaders
		if cfg.Cards.PSAMReader != "" {
			ident.Module = psam.New(readers, cfg.Cards.PSAMReader)
			skip = append(skip, cfg.Cards.PSAMReader)
		}
		desk = agent.NewDesk(agent.DeskConfig{Readers: glue.Readers{R: readers}, Identifier: glue.Identifier{R: ident, Log: log}, Events: bus, Logger: log, Skip: skip})
		services = append(services, supervise.Service{Name: "cards", Run: desk.Run})
	}
	verifier, err := credential.NewVerifier(&credential.TrustList{}, glue.Counters{Store: j}, clock.Real{},
		credential.Options{Lifetime: cfg.Codes.Lifetime.Duration, Skew: cfg.Codes.Skew.Duration})
	if err != nil {
		return fmt.Errorf("%w: codes: %w", config.ErrConfig, err)
	}
	kiosk := agent.NewKiosk(agent.KioskConfig{Verifier: glue.Verifier{V: verifier}, Events: bus, Logger: log})
	if cfg.Scanner.Enabled {
		sc, err := scanner.New(cfg.Scanner.Config, scanner.Options{Logger: log})
		if err != nil {
			return fmt.Errorf("%w: scanner: %w", config.ErrConfig, err)
		}
		services = append(services,
			supervise.Service{Name: "scanner", Run: sc.Run},
			supervise.Service{Name: "kiosk", Run: func(ctx context.Context) error { return kiosk.Run(ctx, glue.Codes(ctx, sc.Codes())) }},
		)
	}
	svc := agent.NewService(agent.ServiceConfig{
		Journal: j, Insurance: ins, Payment: pay, EVoucher: ev, Logger: log, Desk: desk, Kiosk: kiosk, Events: bus,
		Receipt:       agent.ReceiptHeader{Institution: cfg.Institution.Name, TerminalID: cfg.Terminal.ID, Width: cfg.Receipt.Columns()},
		Offline:       offlinePolicy(cfg.Offline),
		InDoubtWindow: cfg.Offline.InDoubtWindow.Duration,
		MinBackoff:    cfg.Forwarder.MinBackoff.Duration, MaxBackoff: cfg.Forwarder.MaxBackoff.Duration,
	})
	fwd := forward.New(svc, pc, forward.Config{Concurrency: cfg.Forwarder.Concurrency, Logger: log})
	svc.OnDeferred(fwd.Kick)
	kick = fwd.Kick
	token, err := loadOrCreateToken(cfg.API.TokenFile)
	if err != nil {
		return err
	}
	st := &statusSource{cfg: cfg, j: j, svc: svc, pc: pc, pay: payWatched, fwd: fwd, desk: desk, started: time.Now()}
	srv, err := api.New(api.Config{
		Addr: cfg.API.Addr, Token: token, Origins: cfg.API.Origins, ExtraHosts: cfg.API.ExtraHosts,
		AllowRemote: cfg.API.AllowRemote, Service: svc, Desk: desk, Kiosk: kiosk, Events: bus, Version: version, Logger: log,
		Status: func(ctx context.Context) any { return st.status(ctx) }, Drain: fwd.Drain,
		Metrics: metrics.Handler(metrics.Fleet{Institution: cfg.Institution.Code, Terminal: cfg.Terminal.ID}, st.metrics), TerminalID: cfg.Terminal.ID, KioskIdle: cfg.API.KioskIdle.Duration,
		Print: receiptPrinter(cfg.Receipt),
	})
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrConfig, err)
	}
	log.Info("medterm started", "version", version, "api", srv.Addr(), "terminal", cfg.Terminal.ID, "journal", cfg.Journal.Path, serviceEvent, true)
	services = append(services,
		supervise.Service{Name: "api", Run: func(ctx context.Context) error {
			if err := srv.Run(ctx); err != nil {
				return supervise.Fatal(err)
			}
			return nil
		}},
		supervise.Service{Name: "forwarder", Run: fwd.Run},
		supervise.Service{Name: "policy", Run: svc.RunPolicyRefresh},
		supervise.Service{Name: "trust", Run: func(ctx context.Context) error {
			return svc.RunTrustRefresh(ctx, func(raw []byte) error {
				tl, err := credential.DecodeTrustList(raw)
				if err != nil {
					return err
				}
				if err := verifier.SetTrustList(tl); err != nil && !errors.Is(err, credential.ErrTrustListRollback) {
					return err
				}
				return nil
			})
		}},
		supervise.Service{Name: "retention", Run: (&journal.Retention{
			Journal: j, Keep: time.Duration(cfg.Retention.KeepDays) * 24 * time.Hour,
			Archive: cfg.Retention.ArchiveFile, Logger: log,
		}).Run},
	)
	if cfg.Reconcile.DailyAt != "" {
		rec, err := agent.NewReconciler(svc, cfg.Reconcile.DailyAt)
		if err != nil {
			return fmt.Errorf("%w: %w", config.ErrConfig, err)
		}
		services = append(services, supervise.Service{Name: "reconcile", Run: rec.Run})
	}
	err = supervise.Run(ctx, supervise.Options{Logger: log}, services...)
	log.Info("medterm stopped", serviceEvent, true)
	return err
}

// openJournal opens the journal, compacting it first when archiving has
// left free space behind (compaction needs the file to itself, so it
// happens here, before anything else uses it).
func openJournal(path string, o journal.Options, log *slog.Logger) (*journal.Journal, error) {
	j, err := journal.Open(path, o)
	if err != nil || !j.CompactDue(context.Background()) {
		return j, err
	}
	if err := j.Close(); err != nil {
		return nil, err
	}
	before, after, err := journal.Compact(path, o)
	if err != nil {
		log.Warn("journal compaction failed; continuing with the file as it is", "err", err)
	} else {
		log.Info("journal compacted", "bytes_before", before, "bytes_after", after)
	}
	return journal.Open(path, o)
}

func offlinePolicy(c config.Offline) agent.OfflinePolicy {
	return agent.OfflinePolicy{
		Enabled: c.Enabled, MaxBill: c.MaxBill.Fen, MaxPerPatientCount: c.MaxBillsPerPatient,
		MaxPerPatientAmount: c.MaxAmountPerPatient.Fen, MaxTerminalAmount: c.MaxTerminalAmount.Fen,
		MaxRecords: c.MaxRecords, MaxAge: c.MaxAge.Duration, Trust: c.Trust, EstimateInsutype: c.EstimateInsutype,
	}
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	// Under systemd, stderr is the journal (JOURNAL_STREAM says so): JSON
	// there, one record per line, its fields for journalctl -o json and a
	// fleet's log shipper; text on a terminal.
	if c.Format == "json" || (c.Format == "auto" && os.Getenv("JOURNAL_STREAM") != "") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// tuneGC trades a little memory for CPU, which an old clinic PC has
// less of: the daemon's live heap is a few megabytes, so the collector
// may let it grow four times over before collecting (GOGC 400 rather
// than 100), under a soft limit of 32 MiB that keeps the terminal within
// its memory budget however long the backlog. GOGC and GOMEMLIMIT in the
// environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(32 << 20)
	}
}

// daemonLogger is the daemon's logger: stderr as newLogger writes it,
// the rotating JSON file of [log] file if one is set, and the platform's
// own log (the Windows event log, for a service). close flushes and
// closes the file.
func daemonLogger(c config.Log, w io.Writer, platform slog.Handler) (log *slog.Logger, close func() error) {
	handlers := []slog.Handler{newLogger(c, w).Handler()}
	close = func() error { return nil }
	if c.File != "" {
		var lvl slog.Level
		_ = lvl.UnmarshalText([]byte(c.Level))
		// lumberjack makes the file's directory (0755) and rotates by
		// size, keeping MaxFiles old files beside it.
		f := &lumberjack.Logger{Filename: c.File, MaxSize: c.MaxSizeMB, MaxBackups: c.MaxFiles}
		handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: lvl}))
		close = f.Close
	}
	if platform != nil {
		handlers = append(handlers, platform)
	}
	if len(handlers) == 1 {
		return slog.New(handlers[0]), close
	}
	return slog.New(slog.NewMultiHandler(handlers...)), close
}

// loadOrCreateToken reads the API token, creating it on first start with
// mode 0640 (the service account and the operators' group).
func loadOrCreateToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return nil, fmt.Errorf("%w: api.token_file %s holds fewer than 16 characters", config.ErrConfig, path)
		}
		return []byte(tok), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: api.token_file: %w", config.ErrConfig, err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	tok := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("%w: api.token_file: %w", config.ErrConfig, err)
	}
	// Written whole or not at all: a first start killed half-way must not
	// leave an empty token that every later start refuses.
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o640, true); err != nil {
		return nil, fmt.Errorf("%w: api.token_file: %w", config.ErrConfig, err)
	}
	return []byte(tok), nil
}
