// Package config is the agent's configuration file: defaults, then a strict
// TOML file (an unknown key is an error that names it), then validation
// that names the field at fault. Hospital IT staff edit this file; every
// mistake must be reported before the daemon starts, in words they can act
// on.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/devices/scanner"
	"github.com/seed-a859fada/medterm/sync/insurance"
	"github.com/seed-a859fada/medterm/sync/unionpay"
)

// Config is the whole file.
type Config struct {
	// Insurance is the medical-insurance platform's gateway, Payment the
	// payment channel that takes the patient's own part, EVoucher the
	// national e-voucher component that resolves national QR codes.
	Insurance   Insurance       `toml:"insurance"`
	Payment     unionpay.Config `toml:"payment"`
	EVoucher    EVoucher        `toml:"evoucher"`
	Institution Institution     `toml:"institution"`
	Terminal    Terminal        `toml:"terminal"`
	Journal     Journal         `toml:"journal"`
	API         API             `toml:"api"`
	Cards       Cards           `toml:"cards"`
	Scanner     Scanner         `toml:"scanner"`
	Codes       Codes           `toml:"codes"`
	Offline     Offline         `toml:"offline"`
	Forwarder   Forwarder       `toml:"forwarder"`
	Reconcile   Reconcile       `toml:"reconcile"`
	Retention   Retention       `toml:"retention"`
	Receipt     Receipt         `toml:"receipt"`
	Log         Log             `toml:"log"`
}

// Receipt is this terminal's receipt printer.
type Receipt struct {
	// Paper is the printer's paper: 58mm (32 columns) or 80mm (48).
	Paper string `toml:"paper"`
	// Printer is how receipts are printed: command (Command, CUPS's lp
	// by default), escpos (ESC/POS straight to Device), or none.
	Printer string   `toml:"printer"`
	Command []string `toml:"command"`
	Device  string   `toml:"device"`
}

// Columns is the paper's width in display columns.
func (r Receipt) Columns() int {
	if r.Paper == "80mm" {
		return 48
	}
	return 32
}

// Scanner is the kiosk's serial QR scanner.
type Scanner struct {
	Enabled bool `toml:"enabled"`
	scanner.Config
}

// Codes tunes the offline verification of signed QR codes.
type Codes struct {
	// Skew is how far a phone's clock may be ahead of or behind the
	// terminal's.
	Skew Duration `toml:"skew"`
	// Lifetime is how long a code is valid after the phone made it.
	Lifetime Duration `toml:"lifetime"`
}

// Offline is the hospital's limits for bills accepted while the platform
// is unreachable (offline/README.md).
type Offline struct {
	Enabled             bool     `toml:"enabled"`
	MaxBill             Yuan     `toml:"max_bill"`
	MaxBillsPerPatient  int      `toml:"max_bills_per_patient"`
	MaxAmountPerPatient Yuan     `toml:"max_amount_per_patient"`
	MaxTerminalAmount   Yuan     `toml:"max_terminal_amount"`
	MaxRecords          int      `toml:"max_records"`
	MaxAge              Duration `toml:"max_age"`
	Trust               []string `toml:"trust"`
	EstimateInsutype    string   `toml:"estimate_insutype"`
	InDoubtWindow       Duration `toml:"in_doubt_window"`
}

// Forwarder tunes the sending of deferred and unfinished bills.
type Forwarder struct {
	Concurrency      int      `toml:"concurrency"`
	MinBackoff       Duration `toml:"min_backoff"`
	MaxBackoff       Duration `toml:"max_backoff"`
	BreakerThreshold int      `toml:"breaker_threshold"`
	BreakerCooldown  Duration `toml:"breaker_cooldown"`
}

// Reconcile is the daily reconciliation with the platform.
type Reconcile struct {
	DailyAt string `toml:"daily_at"` // hh:mm, China time: the day before is reconciled; "" for none
}

// Retention is how long settled records stay in the journal.
type Retention struct {
	KeepDays    int    `toml:"keep_days"`
	ArchiveFile string `toml:"archive_file"`
}

// Yuan is an amount written as "500.00" in the file, parsed exactly.
type Yuan struct{ money.Fen }

// UnmarshalText parses "500" or "500.00".
func (y *Yuan) UnmarshalText(b []byte) error {
	v, err := money.ParseNonNegative(string(b))
	if err != nil {
		return fmt.Errorf("%q is not an amount in yuan (write e.g. \"500.00\"): %w", b, err)
	}
	y.Fen = v
	return nil
}

// MarshalText writes the amount back.
func (y Yuan) MarshalText() ([]byte, error) { return []byte(y.Fen.String()), nil }

// Insurance is the medical-insurance platform's gateway and how to reach
// it.
type Insurance struct {
	// The gateway: its URL, its authentication profile (tif, oauth_sm,
	// none) and the province's knobs, as sync/insurance documents them.
	insurance.Config
	// A pinned CA and a client certificate, where the gateway asks for
	// mutual TLS.
	CAFile   string `toml:"ca_file"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// AttemptTimeout bounds one exchange; RetryWindow is how long a lost
	// answer is resent under its msgid; ConnectWindow how long an
	// unreachable gateway is retried before a bill is deferred.
	AttemptTimeout Duration `toml:"attempt_timeout"`
	RetryWindow    Duration `toml:"retry_window"`
	ConnectWindow  Duration `toml:"connect_window"`
}

// EVoucher is the national e-voucher component, reached on this machine.
type EVoucher struct {
	// URL of the component's local service; empty: national codes are
	// sent to the platform as they are.
	URL string `toml:"url"`
}

// Institution is the hospital.
type Institution struct {
	Code   string `toml:"code"`   // fixmedins_code, 12 characters
	Name   string `toml:"name"`   // fixmedins_name
	Region string `toml:"region"` // mdtrtarea_admvs, 6 digits
}

// Terminal is this PC or kiosk.
type Terminal struct {
	ID   string `toml:"id"`   // dev_no
	Slot int    `toml:"slot"` // 00-99, unique per institution: the msgid's terminal digits
}

// Journal is the local store.
type Journal struct {
	Path    string `toml:"path"`
	KeyFile string `toml:"key_file"`
}

// API is the local API.
type API struct {
	Addr        string   `toml:"addr"`
	TokenFile   string   `toml:"token_file"`
	Origins     []string `toml:"origins"`
	ExtraHosts  []string `toml:"extra_hosts"`
	AllowRemote bool     `toml:"allow_remote"`
	// EventBuffer is how many of the latest events are kept for clients
	// of /v1/events that reconnect after a drop.
	EventBuffer int `toml:"event_buffer"`
	// KioskIdle is how long the kiosk page waits untouched before it
	// returns to the start and forgets the patient.
	KioskIdle Duration `toml:"kiosk_idle"`
}

// MaxEventBuffer bounds api.event_buffer: the replay is copied under the
// bus's lock, which every card read and settlement waits for.
const MaxEventBuffer = 65536

// Cards is the desk's social-security card readers (PC/SC).
type Cards struct {
	Enabled bool `toml:"enabled"`
	// PSAMReader is the reader holding the PSAM that authenticates 3rd
	// generation cards; empty when there is none.
	PSAMReader string `toml:"psam_reader"`
	// SkipReaders are readers that are not for patients' cards.
	SkipReaders []string `toml:"skip_readers"`
	// KeyID names the card key in EXTERNAL AUTHENTICATE (P2).
	KeyID int `toml:"key_id"`
}

// Log is logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // auto (JSON to the systemd journal, else text), text or json
	// File, when set, also takes every record as JSON, rotated at
	// MaxSizeMB and kept MaxFiles deep: the Windows service's log (its
	// stderr goes nowhere), or a Linux terminal without a journal.
	File      string `toml:"file"`
	MaxSizeMB int    `toml:"max_size_mb"`
	MaxFiles  int    `toml:"max_files"`
}

// Duration is a time.Duration written as "10s" in the file.
type Duration struct{ time.Duration }

// UnmarshalText parses "10s", "2m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. \"10s\" or \"2m\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ErrConfig wraps every configuration problem.
var ErrConfig = errors.New("configuration")

// Default returns the configuration before the file is read.
func Default() Config {
	return Config{
		Insurance: Insurance{
			Config:         insurance.Config{Auth: "tif", Infver: "V1.0"},
			AttemptTimeout: Duration{10 * time.Second},
			RetryWindow:    Duration{30 * time.Second},
			ConnectWindow:  Duration{3 * time.Second},
		},
		Journal: Journal{Path: "/var/lib/medterm/journal.db", KeyFile: "/var/lib/medterm/journal.key"},
		API:     API{Addr: "127.0.0.1:8961", TokenFile: "/var/lib/medterm/api.token", EventBuffer: 1024, KioskIdle: Duration{60 * time.Second}},
		Cards:   Cards{Enabled: true, KeyID: 4},
		Scanner: Scanner{Config: scanner.DefaultConfig()},
		Codes:   Codes{Skew: Duration{30 * time.Second}, Lifetime: Duration{60 * time.Second}},
		Offline: Offline{
			Enabled: true, MaxBill: Yuan{money.CNY(500)}, MaxBillsPerPatient: 3, MaxAmountPerPatient: Yuan{money.CNY(1000)},
			MaxTerminalAmount: Yuan{money.CNY(20000)}, MaxRecords: 500, MaxAge: Duration{72 * time.Hour},
			Trust: []string{"card", "qr_signed"}, EstimateInsutype: "310", InDoubtWindow: Duration{10 * time.Minute},
		},
		Forwarder: Forwarder{Concurrency: 4, MinBackoff: Duration{5 * time.Second}, MaxBackoff: Duration{10 * time.Minute},
			BreakerThreshold: 3, BreakerCooldown: Duration{10 * time.Second}},
		Reconcile: Reconcile{DailyAt: "00:30"},
		Retention: Retention{KeepDays: 180, ArchiveFile: "/var/lib/medterm/archive.db"},
		Receipt:   Receipt{Paper: "58mm", Printer: "command", Command: []string{"lp"}},
		Log:       Log{Level: "info", Format: "auto", MaxSizeMB: 10, MaxFiles: 5},
	}
}

// Load reads path over the defaults and validates the result, the
// payment channel's key files included: what the daemon needs. Relative
// paths in the file are relative to the file's directory, so a config and
// its secrets can travel together.
func Load(path string) (Config, error) {
	return load(path, true)
}

// LoadForClient reads path as Load does, as strictly, for the commands
// that only talk to the running daemon: it does not read the payment
// channel's key files, which are the daemon's alone (mode 0600) and which
// window staff cannot read. serve checks them when it starts.
func LoadForClient(path string) (Config, error) {
	return load(path, false)
}

func load(path string, keys bool) (Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return c, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		hint := ""
		if md.IsDefined("platform") {
			// Files written for the agent before the payment channel.
			hint = " ([platform] is gone: the gateway is [insurance], with token_file holding the tif token instead of secrets_file; the payment channel is [payment]; see packaging/medterm.toml)"
		}
		return c, fmt.Errorf("%w: %s: unknown key %s%s", ErrConfig, path, strings.Join(keys, ", "), hint)
	}
	c.resolve(filepath.Dir(path))
	if err := c.validate(keys); err != nil {
		return c, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	return c, nil
}

func (c *Config) resolve(dir string) {
	in := &c.Insurance
	for _, p := range []*string{&in.TokenFile, &in.ClientSecretFile, &in.PasswordFile, &in.SignKeyFile, &in.PlatformKeyFile, &in.SM4KeyFile,
		&in.CAFile, &in.CertFile, &in.KeyFile, &c.Payment.KeyFile, &c.Payment.ChannelKeyFile,
		&c.Journal.Path, &c.Journal.KeyFile, &c.API.TokenFile, &c.Retention.ArchiveFile, &c.Log.File} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

func (r Receipt) validate() error {
	if r.Paper != "58mm" && r.Paper != "80mm" {
		return fmt.Errorf("receipt.paper %q must be 58mm or 80mm", r.Paper)
	}
	switch r.Printer {
	case "none":
	case "command":
		if len(r.Command) == 0 || r.Command[0] == "" {
			return fmt.Errorf("receipt.command must name the print command, e.g. [\"lp\", \"-d\", \"receipt\"]")
		}
	case "escpos":
		if r.Device == "" {
			return fmt.Errorf("receipt.device must name the printer's device (e.g. /dev/usb/lp0) for printer = \"escpos\"")
		}
	default:
		return fmt.Errorf("receipt.printer %q must be command, escpos or none", r.Printer)
	}
	return nil
}

// Validate checks every field, naming the first one at fault, and reads
// the payment channel's key files when the channel is enabled.
func (c Config) Validate() error { return c.validate(true) }

func (c Config) validate(keys bool) error {
	if err := c.Receipt.validate(); err != nil {
		return err
	}
	if err := c.Insurance.Config.Validate(); err != nil {
		return fieldError(err, insurance.ErrConfig)
	}
	if c.Payment.Enabled && keys {
		// The adapter's own checks, key files included, so that a bad key
		// stops the daemon at start, not at the first payment.
		if err := c.Payment.WithDefaults().Validate(); err != nil {
			return fieldError(err, unionpay.ErrConfig)
		}
	}
	if c.EVoucher.URL != "" {
		if u, err := url.Parse(c.EVoucher.URL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("evoucher.url %q must be the component's local http:// URL", c.EVoucher.URL)
		}
	}
	switch {
	case len(c.Institution.Code) != 12:
		return fmt.Errorf("institution.code %q must be the 12-character institution code", c.Institution.Code)
	case c.Institution.Name == "":
		return errors.New("institution.name is required")
	case !digits(c.Institution.Region, 6):
		return fmt.Errorf("institution.region %q must be the 6-digit region code", c.Institution.Region)
	case c.Terminal.ID == "" || len(c.Terminal.ID) > 20:
		return errors.New("terminal.id is required (at most 20 characters)")
	case c.Terminal.Slot < 0 || c.Terminal.Slot > 99:
		return fmt.Errorf("terminal.slot %d must be 0 to 99, unique among the institution's terminals", c.Terminal.Slot)
	case c.Journal.Path == "":
		return errors.New("journal.path is required")
	case c.Journal.KeyFile == "":
		return errors.New("journal.key_file is required")
	case filepath.Clean(c.Journal.KeyFile) == filepath.Clean(c.Journal.Path):
		return errors.New("journal.key_file must not be the journal itself")
	case c.API.TokenFile == "":
		return errors.New("api.token_file is required")
	case c.Insurance.AttemptTimeout.Duration <= 0 || c.Insurance.RetryWindow.Duration <= 0 || c.Insurance.ConnectWindow.Duration <= 0:
		return errors.New("insurance.attempt_timeout, retry_window and connect_window must be positive")
	}
	if _, _, err := net.SplitHostPort(c.API.Addr); err != nil {
		return fmt.Errorf("api.addr %q must be host:port", c.API.Addr)
	}
	for _, o := range c.API.Origins {
		if ou, err := url.Parse(o); err != nil || ou.Host == "" || ou.Path != "" {
			return fmt.Errorf("api.origins: %q must be an origin like https://his.hospital.local", o)
		}
	}
	if c.API.KioskIdle.Duration < 10*time.Second || c.API.KioskIdle.Duration > 10*time.Minute {
		return fmt.Errorf("api.kiosk_idle %s must be 10s to 10m (how long the kiosk page waits before it forgets the patient)", c.API.KioskIdle.Duration)
	}
	if c.API.EventBuffer < 1 || c.API.EventBuffer > MaxEventBuffer {
		return fmt.Errorf("api.event_buffer %d must be 1 to %d (events kept for clients that reconnect)", c.API.EventBuffer, MaxEventBuffer)
	}
	if err := c.Offline.validate(); err != nil {
		return err
	}
	if c.Forwarder.Concurrency < 1 || c.Forwarder.Concurrency > 64 {
		return fmt.Errorf("forwarder.concurrency %d must be 1 to 64", c.Forwarder.Concurrency)
	}
	if c.Forwarder.MinBackoff.Duration <= 0 || c.Forwarder.MaxBackoff.Duration < c.Forwarder.MinBackoff.Duration {
		return errors.New("forwarder.min_backoff must be positive and max_backoff at least as long")
	}
	if c.Forwarder.BreakerThreshold < 1 || c.Forwarder.BreakerCooldown.Duration <= 0 {
		return errors.New("forwarder.breaker_threshold must be at least 1 and breaker_cooldown positive")
	}
	if c.Reconcile.DailyAt != "" {
		if _, err := time.Parse("15:04", c.Reconcile.DailyAt); err != nil {
			return fmt.Errorf("reconcile.daily_at %q must be hh:mm (24-hour, China time) or empty", c.Reconcile.DailyAt)
		}
	}
	if c.Retention.KeepDays < 180 {
		return fmt.Errorf("retention.keep_days %d: settled records are kept at least 180 days, as long as the platform keeps msgids", c.Retention.KeepDays)
	}
	if c.Retention.ArchiveFile == "" || filepath.Clean(c.Retention.ArchiveFile) == filepath.Clean(c.Journal.Path) {
		return errors.New("retention.archive_file is required and must not be the journal itself")
	}
	if c.Scanner.Enabled {
		if err := c.Scanner.Config.Validate(); err != nil {
			return fmt.Errorf("scanner.%w", err)
		}
	}
	if c.Codes.Skew.Duration < 0 || c.Codes.Skew.Duration > 10*time.Minute || c.Codes.Lifetime.Duration < 10*time.Second || c.Codes.Lifetime.Duration > 10*time.Minute {
		return errors.New("codes.skew must be 0 to 10m and codes.lifetime 10s to 10m")
	}
	if c.Cards.KeyID < 0 || c.Cards.KeyID > 255 {
		return fmt.Errorf("cards.key_id %d must be 0 to 255", c.Cards.KeyID)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" && c.Log.Format != "auto" {
		return fmt.Errorf("log.format %q must be auto, text or json", c.Log.Format)
	}
	if c.Log.MaxSizeMB < 1 || c.Log.MaxSizeMB > 1024 || c.Log.MaxFiles < 1 || c.Log.MaxFiles > 100 {
		return fmt.Errorf("log.max_size_mb %d must be 1 to 1024 and log.max_files %d 1 to 100", c.Log.MaxSizeMB, c.Log.MaxFiles)
	}
	return nil
}

func (o Offline) validate() error {
	switch {
	case o.MaxBill.Fen <= 0 || o.MaxAmountPerPatient.Fen <= 0 || o.MaxTerminalAmount.Fen <= 0:
		return errors.New("offline.max_bill, max_amount_per_patient and max_terminal_amount must be positive")
	case o.MaxBillsPerPatient < 1 || o.MaxRecords < 1:
		return errors.New("offline.max_bills_per_patient and max_records must be at least 1")
	case o.MaxAge.Duration <= 0:
		return errors.New("offline.max_age must be positive")
	case o.InDoubtWindow.Duration < time.Minute:
		return errors.New("offline.in_doubt_window must be at least 1m")
	case o.EstimateInsutype != "310" && o.EstimateInsutype != "390":
		return fmt.Errorf("offline.estimate_insutype %q must be 310 or 390", o.EstimateInsutype)
	}
	for _, t := range o.Trust {
		switch t {
		case "card", "qr_signed", "id_number", "qr_opaque":
		default:
			return fmt.Errorf("offline.trust: %q must be card, qr_signed, id_number or qr_opaque", t)
		}
	}
	return nil
}

// sectionError is a section's own validation error, which already names
// the field (insurance.url, payment.key_file): its message without the
// section's prefix, so that Load's reads "configuration: FILE:
// payment.key_file ...", and still Is the section's sentinel.
type sectionError struct {
	msg string
	err error
}

func (e sectionError) Error() string { return e.msg }
func (e sectionError) Unwrap() error { return e.err }

func fieldError(err, sentinel error) error {
	return sectionError{msg: strings.TrimPrefix(err.Error(), sentinel.Error()+": "), err: err}
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
