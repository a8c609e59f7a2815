// Package client is the agent's connection to the insurance platform's
// gateway: it wraps each transaction in the national envelope, protects
// and authenticates it by the gateway's transport profile (package
// transport), signs in with 9001 (and in again when the session expires),
// reads the answer as real gateways send it, classifies failures, and
// resends the same msgid when an answer is lost, so that a request either
// gets its answer or is reported as unreachable (certainly not delivered)
// or in doubt (perhaps delivered).
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// Config is everything the client needs. Zero durations take the defaults
// below.
type Config struct {
	// URL is the gateway's one URL (…/fsi/api/rsfComIfsService/callService):
	// every transaction is posted there, its infno in the body.
	URL             string
	InstitutionCode string // fixmedins_code, 12 characters
	InstitutionName string
	Region          string // mdtrtarea_admvs, 6 digits
	DevNo           string // this terminal's id
	RecerSysCode    string
	Infver          string // default protocol.Version
	// Profile authenticates and protects each attempt (tif, oauth_sm or
	// none).
	Profile transport.Profile
	// Classifier decides the kind of a failure; default
	// protocol.DefaultPatterns.
	Classifier *protocol.Classifier

	// TLS: the platform CA to pin, and an optional client certificate.
	CAFile, CertFile, KeyFile string

	// AttemptTimeout bounds one HTTP exchange.
	AttemptTimeout time.Duration
	// RetryWindow bounds how long a lost answer is retried under the same
	// msgid before the request is reported in doubt.
	RetryWindow time.Duration
	// ConnectWindow bounds how long an unreachable platform is retried
	// before giving up: short, because the caller decides what to do offline.
	ConnectWindow time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff with jitter.
	MinBackoff, MaxBackoff time.Duration

	// NextMsgid allocates a msgid durably, for the client's own sign-in.
	NextMsgid func(ctx context.Context) (string, error)

	// BreakerThreshold failed requests in a row open the circuit breaker
	// for BreakerCooldown.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// OnChange, if set, is told when the platform becomes reachable or
	// unreachable (the breaker closes or opens).
	OnChange func(online bool)

	Clock  clock.Clock
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultAttemptTimeout = 10 * time.Second
	DefaultRetryWindow    = 30 * time.Second
	DefaultConnectWindow  = 3 * time.Second
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
	// DefaultBreakerThreshold and DefaultBreakerCooldown: three requests
	// that found no platform open the breaker for ten seconds.
	DefaultBreakerThreshold = 3
	DefaultBreakerCooldown  = 10 * time.Second
)

// Client sends transactions to the platform. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	log  *slog.Logger

	signMu sync.Mutex // one sign-in at a time
	brk    *breaker

	mu     sync.Mutex
	signNo string // empty: not signed in
	online Status
}

// Status is what the client last learnt about the platform.
type Status struct {
	Reachable bool
	LastOK    time.Time
	LastError string
	LastErrAt time.Time
}

// New checks cfg and returns a client. Plain HTTP is accepted only for a
// loopback platform (a local sandbox): anything else must be HTTPS.
func New(cfg Config) (*Client, error) {
	setDefaults(&cfg)
	if cfg.Profile == nil {
		return nil, fmt.Errorf("%w: no transport profile", ErrConfig)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: platform url %q is not a URL", ErrConfig, cfg.URL)
	}
	if err := CheckURL(u, cfg.Profile.Name()); err != nil {
		return nil, err
	}
	if len(cfg.InstitutionCode) != 12 {
		return nil, fmt.Errorf("%w: institution code %q must be 12 characters", ErrConfig, cfg.InstitutionCode)
	}
	if cfg.NextMsgid == nil {
		return nil, fmt.Errorf("%w: no msgid source", ErrConfig)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a hospital proxy must not see or delay settlement traffic unasked
	tr.MaxIdleConnsPerHost = 16
	if u.Scheme == "https" {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	return &Client{
		cfg:  cfg,
		base: u,
		http: &http.Client{Transport: tr, Timeout: cfg.AttemptTimeout},
		log:  cfg.Logger,
		brk:  &breaker{threshold: cfg.BreakerThreshold, cooldown: cfg.BreakerCooldown},
	}, nil
}

func setDefaults(cfg *Config) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.AttemptTimeout, DefaultAttemptTimeout)
	def(&cfg.RetryWindow, DefaultRetryWindow)
	def(&cfg.ConnectWindow, DefaultConnectWindow)
	def(&cfg.MinBackoff, DefaultMinBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.BreakerCooldown, DefaultBreakerCooldown)
	if cfg.BreakerThreshold <= 0 {
		cfg.BreakerThreshold = DefaultBreakerThreshold
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RecerSysCode == "" {
		cfg.RecerSysCode = "MEDTERM"
	}
	if cfg.Infver == "" {
		cfg.Infver = protocol.Version
	}
	if cfg.Classifier == nil {
		cfg.Classifier = protocol.MustClassifier(protocol.DefaultPatterns())
	}
}

// CheckURL refuses a URL that would send settlement traffic in clear
// across a network: plain http is allowed to a loopback address (a local
// sandbox), and under the none profile to a private-network address (the
// hospital's front-end machine on its LAN, which real deployments reach by
// http). Anything else must be https.
func CheckURL(u *url.URL, auth string) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		if ip := net.ParseIP(u.Hostname()); auth == transport.AuthNone && ip != nil && ip.IsPrivate() {
			return nil
		}
		return fmt.Errorf("%w: platform url %q: plain http is allowed only to a loopback address (or a private one under auth none)", ErrConfig, u)
	}
	return fmt.Errorf("%w: platform url %q: scheme must be https", ErrConfig, u)
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: platform CA: %v", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: platform CA %s holds no PEM certificate", ErrConfig, cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: client certificate: %v", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Status returns what the client last learnt about the platform.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online
}

// Available reports whether the platform is believed reachable: false
// while the circuit breaker is open, so that a caller can go offline at
// once instead of waiting for a connection to fail.
func (c *Client) Available() bool { return c.brk.available(c.cfg.Clock.Now()) }

// Retry half-opens the circuit breaker at once: the next request goes out
// and its outcome closes the breaker or opens it again. It is for an
// operator's "sync now", who should not wait out the cool-down.
func (c *Client) Retry() { c.brk.retry() }

// expire forgets signNo if it is still the current session, so that
// concurrent requests that all hit SIGN_EXPIRED sign in only once.
func (c *Client) expire(signNo string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.signNo == signNo {
		c.signNo = ""
		c.log.Info("platform session expired; signing in again")
	}
}

func (c *Client) noteOK() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.online.Reachable = true
	c.online.LastOK = c.cfg.Clock.Now()
}

func (c *Client) noteError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.online.Reachable = false
	c.online.LastError = err.Error()
	c.online.LastErrAt = c.cfg.Clock.Now()
}

// Request is one transaction as the adapter hands it to the client: the
// client adds the envelope and the transport's authentication, signs in
// when needed, and resends the same msgid when an answer is lost.
type Request struct {
	Infno         string
	Msgid         string
	InsuplcAdmdvs string // the insured person's region, once known
	Operator      agent.Operator
	Input         json.RawMessage
}
