// Package client is the agent's connection to the central platform: it
// wraps each transaction in the envelope, signs it, signs in (and in again
// when the session expires), and resends the same msgid when an answer is
// lost, so that a request either gets its answer or is reported as
// unreachable (certainly not delivered) or in doubt (perhaps delivered).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Config is everything the client needs. Zero durations take the defaults
// below.
type Config struct {
	BaseURL         string // https://gateway/…, or http://127.0.0.1:port for a local sandbox
	InstitutionCode string // fixmedins_code, 12 characters
	InstitutionName string
	Region          string // mdtrtarea_admvs, 6 digits
	DevNo           string // this terminal's id
	Secret          []byte // the institution's HMAC-SM3 secret
	RecerSysCode    string

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

// ErrConfig wraps configuration problems found by New.
var ErrConfig = errors.New("platform client configuration")

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

var _ agent.Platform = (*Client)(nil)

// New checks cfg and returns a client. Plain HTTP is accepted only for a
// loopback platform (a local sandbox): anything else must be HTTPS.
func New(cfg Config) (*Client, error) {
	setDefaults(&cfg)
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: platform url %q is not a URL", ErrConfig, cfg.BaseURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: platform url %q: plain http is allowed only to a loopback address", ErrConfig, cfg.BaseURL)
		}
	default:
		return nil, fmt.Errorf("%w: platform url %q: scheme must be https", ErrConfig, cfg.BaseURL)
	}
	if len(cfg.InstitutionCode) != 12 {
		return nil, fmt.Errorf("%w: institution code %q must be 12 characters", ErrConfig, cfg.InstitutionCode)
	}
	if len(cfg.Secret) < protocol.MinSecretLen {
		return nil, fmt.Errorf("%w: institution secret missing or shorter than %d bytes", ErrConfig, protocol.MinSecretLen)
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

// Send implements agent.Platform.
func (c *Client) Send(ctx context.Context, req agent.PlatformRequest) (json.RawMessage, error) {
	if err := protocol.ValidMsgid(req.Msgid); err != nil {
		return nil, fmt.Errorf("send %s: %w", req.Infno, err)
	}
	if !c.brk.allow(c.cfg.Clock.Now()) {
		return nil, fmt.Errorf("send %s: %w: circuit open after repeated failures", req.Infno, agent.ErrUnreachable)
	}
	out, err := c.send(ctx, req)
	reached := err == nil || !(errors.Is(err, agent.ErrUnreachable) || errors.Is(err, agent.ErrInDoubt))
	if changed, open := c.brk.result(c.cfg.Clock.Now(), reached); changed {
		if open {
			c.log.Warn("platform unreachable: circuit open", "cooldown", c.cfg.BreakerCooldown)
		} else {
			c.log.Info("platform reachable again: circuit closed")
		}
		if c.cfg.OnChange != nil {
			c.cfg.OnChange(!open)
		}
	}
	return out, err
}

func (c *Client) send(ctx context.Context, req agent.PlatformRequest) (json.RawMessage, error) {
	r := retrier{c: c, start: c.cfg.Clock.Now()}
	// inDoubt is the answer once an attempt may have reached the platform:
	// whatever happens to the later attempts (a refusal at the door, a
	// sign-in that fails, the deadline), the first one may have been booked.
	inDoubt := func(cause error) error {
		c.log.Warn("platform request in doubt", "infno", req.Infno, "msgid", req.Msgid, "attempts", r.attempts+1, "err", cause)
		return fmt.Errorf("send %s %s: %w: %v", req.Infno, req.Msgid, agent.ErrInDoubt, cause)
	}
	for {
		signNo, err := c.session(ctx)
		if err != nil {
			if r.delivered {
				return nil, inDoubt(err)
			}
			return nil, err
		}
		out, err := c.exchange(ctx, req, signNo)
		var sendErr *attemptError
		if errors.As(err, &sendErr) && sendErr.delivered {
			r.delivered = true
		}
		var perr *protocol.Error
		switch {
		case err == nil:
			c.noteOK()
			return out, nil
		case errors.As(err, &perr):
			c.noteOK() // it answered
			if perr.Code == protocol.CodeSignExpired {
				c.expire(signNo)
				if r.renewals++; r.renewals <= 3 {
					continue
				}
			}
			if (perr.Code == protocol.CodeNonceReused || perr.Code == protocol.CodeStaleTimestamp) && r.reSigned < 1 {
				r.reSigned++ // a fresh nonce and timestamp are drawn on every attempt
				continue
			}
			if r.delivered && !perr.Processed() {
				return nil, inDoubt(err) // this attempt was refused, an earlier one may not have been
			}
			return nil, err
		case ctx.Err() != nil:
			if r.delivered {
				return nil, inDoubt(ctx.Err())
			}
			return nil, fmt.Errorf("send %s: %w: %v", req.Infno, agent.ErrUnreachable, ctx.Err())
		case sendErr == nil:
			return nil, err
		}
		c.noteError(err)
		if werr := r.wait(ctx, sendErr); werr != nil {
			if r.delivered {
				return nil, inDoubt(err)
			}
			c.log.Warn("platform unreachable", "infno", req.Infno, "attempts", r.attempts, "err", err)
			return nil, fmt.Errorf("send %s: %w: %v", req.Infno, agent.ErrUnreachable, err)
		}
		c.log.Info("platform request resent", "infno", req.Infno, "msgid", req.Msgid, "attempt", r.attempts+1, "err", err)
	}
}

// retrier decides whether another attempt of the same msgid is worth it.
type retrier struct {
	c         *Client
	start     time.Time
	attempts  int
	renewals  int
	reSigned  int
	delivered bool // some attempt may have reached the platform
}

// wait backs off before the next attempt, or returns an error when the
// window for this kind of failure has passed. A request that may have been
// delivered earns the long window: it must get its answer if at all
// possible. One that never left earns the short one.
func (r *retrier) wait(ctx context.Context, last *attemptError) error {
	r.attempts++
	window := r.c.cfg.ConnectWindow
	if r.delivered {
		window = r.c.cfg.RetryWindow
	}
	d := backoff(r.c.cfg.MinBackoff, r.c.cfg.MaxBackoff, r.attempts)
	if r.c.cfg.Clock.Now().Add(d).Sub(r.start) > window {
		return last
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.c.cfg.Clock.After(d):
		return nil
	}
}

// backoff is exponential with full jitter: spread retries of many
// terminals so a recovering platform is not hit by all of them at once.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo << min(attempt, 20)
	if d > hi || d <= 0 {
		d = hi
	}
	return lo + rand.N(d-lo+1)
}

// attemptError is a transport failure of one attempt.
type attemptError struct {
	delivered bool // the request was written: the platform may have acted on it
	err       error
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// exchange makes one HTTP attempt.
func (c *Client) exchange(ctx context.Context, req agent.PlatformRequest, signNo string) (json.RawMessage, error) {
	now := c.cfg.Clock.Now()
	env := protocol.Request{
		Infno:          req.Infno,
		Msgid:          req.Msgid,
		MdtrtareaAdmvs: c.cfg.Region,
		InsuplcAdmdvs:  req.InsuplcAdmdvs,
		RecerSysCode:   c.cfg.RecerSysCode,
		DevNo:          c.cfg.DevNo,
		Signtype:       "SM3",
		Infver:         protocol.Version,
		OpterType:      req.Operator.Type,
		Opter:          req.Operator.ID,
		OpterName:      req.Operator.Name,
		InfTime:        protocol.FormatInfTime(now),
		FixmedinsCode:  c.cfg.InstitutionCode,
		FixmedinsName:  c.cfg.InstitutionName,
		SignNo:         signNo,
		Input:          req.Input,
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode %s envelope: %w", req.Infno, err)
	}
	u := c.base.JoinPath("tx", req.Infno)
	var delivered bool
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		// Even a write that reported an error may have put bytes on the
		// wire: count it as delivered. Only "never wrote" is certain.
		delivered = true
	}}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s request: %w", req.Infno, err)
	}
	hreq.Header.Set("Content-Type", "application/json; charset=utf-8")
	if err := protocol.Sign(hreq, c.cfg.DevNo, c.cfg.Secret, body, now); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, &attemptError{delivered: delivered, err: err}
	}
	defer resp.Body.Close()
	var env2 protocol.Response
	if err := protocol.DecodeLenient(resp.Body, &env2); err != nil {
		// A gateway error page, or an answer cut short: the platform may
		// have acted, so it is a lost answer, not a refusal.
		return nil, &attemptError{delivered: true, err: fmt.Errorf("%s answer (HTTP %d): %w", req.Infno, resp.StatusCode, err)}
	}
	if env2.Infcode != protocol.InfcodeOK {
		return nil, &protocol.Error{Infno: req.Infno, Code: env2.ErrCode, Message: env2.ErrMsg}
	}
	return env2.Output, nil
}

// session returns the current sign_no, signing in first if there is none.
func (c *Client) session(ctx context.Context) (string, error) {
	c.signMu.Lock()
	defer c.signMu.Unlock()
	c.mu.Lock()
	signNo := c.signNo
	c.mu.Unlock()
	if signNo != "" {
		return signNo, nil
	}
	msgid, err := c.cfg.NextMsgid(ctx)
	if err != nil {
		return "", fmt.Errorf("sign-in msgid: %w", err)
	}
	in, err := protocol.SignIn.EncodeInput(protocol.SignInInput{SignIn: protocol.SignInData{OpterNo: c.cfg.DevNo, Mac: "", IP: "127.0.0.1"}})
	if err != nil {
		return "", err
	}
	req := agent.PlatformRequest{
		Infno: protocol.SignIn.Infno, Msgid: msgid, Input: in,
		Operator: agent.Operator{ID: c.cfg.DevNo, Name: c.cfg.DevNo, Type: protocol.OpterKiosk},
	}
	// Sign-in is retried like any request but must not recurse into
	// session(): exchange is called directly, without a sign_no.
	r := retrier{c: c, start: c.cfg.Clock.Now()}
	for {
		raw, err := c.exchange(ctx, req, "")
		if err == nil {
			out, err := protocol.SignIn.DecodeOutput(raw)
			if err != nil {
				return "", err
			}
			if out.Signinoutb.SignNo == "" {
				return "", fmt.Errorf("sign-in: %w: empty sign_no", protocol.ErrMalformed)
			}
			c.mu.Lock()
			c.signNo = out.Signinoutb.SignNo
			c.mu.Unlock()
			c.noteOK()
			c.log.Info("signed in to the platform", "dev_no", c.cfg.DevNo)
			return out.Signinoutb.SignNo, nil
		}
		var aerr *attemptError
		if !errors.As(err, &aerr) {
			return "", fmt.Errorf("sign-in: %w", err)
		}
		// A lost sign-in answer is harmless: the next attempt simply
		// opens another session. It is never in doubt.
		aerr.delivered = false
		c.noteError(err)
		if werr := r.wait(ctx, aerr); werr != nil {
			return "", fmt.Errorf("sign-in: %w: %v", agent.ErrUnreachable, err)
		}
	}
}

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
