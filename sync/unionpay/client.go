// Package unionpay is the agent's payment channel adapter: it implements
// agent.PaymentChannel over UnionPay's ACP back-end interface (package acp:
// form-encoded fields, SM2-signed both ways), the way a token payment
// without redirect (无跳转 token) debits the source a patient signed for.
//
// Each request is one HTTP POST. An answer that is lost (no answer, a cut
// connection, a gateway's error page) is resent under the same orderId
// and txnTime, which the channel answers once, a bounded number of times;
// after that the request is reported unreachable if no attempt was ever
// written, and in doubt otherwise. An answer is believed only when the
// channel's key verifies it and it matches its request; otherwise nothing
// in it is taken, and a payment, a cancel or a refund is in doubt (query
// it), never paid.
//
// When is a payment paid? ACP's demos read respCode 00 on the consume's
// synchronous answer as "accepted", final only by the back notification or
// a query. The rule here: 00 is succeeded when the answer also carries the
// channel's transaction id (queryId), which the channel assigns only to a
// transaction it booked; 00 without it is unknown, and the order is
// queried. 03, 04 and 05 are unknown; 12 (the orderId was used for other
// content) is agent.ErrIdempotencyConflict; any other code is a refusal
// with the reason of the table in codes.go.
//
// The agreement calls have no public specification: they are medterm's
// own operations (txnType M0 to M3, bizType MT0001) on a path of their own,
// signed the same way; see package acp.
package unionpay

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Options are the client's collaborators, which the configuration file
// does not name.
type Options struct {
	Clock  clock.Clock // resend pauses and the agreement calls' txnTime; default the wall clock
	Logger *slog.Logger
	// Transport replaces the HTTP transport (tests); default a clone of
	// http.DefaultTransport without a proxy.
	Transport http.RoundTripper
}

// Client is the payment channel. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    *url.URL
	key     *sm2.PrivateKey
	channel []*ecdsa.PublicKey
	http    *http.Client
	clk     clock.Clock
	log     *slog.Logger
}

var _ agent.PaymentChannel = (*Client)(nil)

// New checks cfg, reads its keys and returns a client.
func New(cfg Config, opts Options) (*Client, error) {
	cfg = cfg.WithDefaults()
	if !cfg.Enabled {
		return nil, ErrDisabled
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseURL(cfg.URL) // checked by Validate
	key, err := cfg.loadKey()
	if err != nil {
		return nil, err
	}
	chKeys, err := cfg.loadChannelKeys()
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Transport == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil // a hospital proxy must not see or delay debits unasked
		opts.Transport = tr
	}
	return &Client{
		cfg: cfg, base: base, key: key, channel: chKeys, clk: opts.Clock, log: opts.Logger,
		// No client-wide timeout: each attempt has its own (AttemptTimeout).
		http: &http.Client{Transport: opts.Transport, CheckRedirect: noRedirects},
	}, nil
}

// A redirect would resend a signed debit somewhere the configuration does
// not name: refuse it, and take the redirect answer as a lost answer.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// lostAnswer is an attempt that got no answer to believe or refuse: the
// request may or may not have been written (wrote).
type lostAnswer struct {
	wrote bool
	err   error
}

func (e *lostAnswer) Error() string { return e.err.Error() }
func (e *lostAnswer) Unwrap() error { return e.err }

// exchange signs req, sends it to path and returns the channel's verified
// answer. op and order name the request in errors and logs (order is empty
// for a statement).
func (c *Client) exchange(ctx context.Context, op, path string, req acp.Fields) (acp.Fields, error) {
	req[acp.FVersion] = acp.Version
	req[acp.FEncoding] = acp.Encoding
	req[acp.FAccessType] = acp.AccessMerchant
	req[acp.FMerID] = c.cfg.MerchantID
	if err := acp.Sign(c.key, req); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body := req.Encode()
	order := req[acp.FOrderID]
	u := c.base.JoinPath(path).String()
	wrote := false // some attempt may have reached the channel
	var last error
	for attempt := 1; ; attempt++ {
		ans, err := c.attempt(ctx, u, body)
		var lost *lostAnswer
		switch {
		case err == nil:
			code := ans[acp.FRespCode]
			if wrote && acp.AtTheDoor(code) {
				// This resend was refused unread; the earlier attempt that
				// may have been processed is not answered by it.
				return nil, fmt.Errorf("%s %s: %w: a resend was refused unread (respCode %s) after an earlier attempt may have been processed", op, order, agent.ErrInDoubt, code)
			}
			return ans, nil
		case !errors.As(err, &lost):
			return nil, fmt.Errorf("%s %s: %w", op, order, err)
		}
		wrote = wrote || lost.wrote
		last = err
		if attempt >= c.cfg.Attempts || ctx.Err() != nil {
			break
		}
		c.log.Info("payment channel request resent", "op", op, "order", order, "attempt", attempt+1, "err", err)
		if !c.pause(ctx) {
			break
		}
	}
	if wrote {
		c.log.Warn("payment channel request in doubt", "op", op, "order", order, "err", last)
		return nil, fmt.Errorf("%s %s: %w: %v", op, order, agent.ErrInDoubt, last)
	}
	c.log.Warn("payment channel unreachable", "op", op, "order", order, "err", last)
	return nil, fmt.Errorf("%s %s: %w: %v", op, order, agent.ErrUnreachable, last)
}

func (c *Client) pause(ctx context.Context) bool {
	if c.cfg.ResendDelay <= 0 {
		return true
	}
	select {
	case <-ctx.Done():
		return false
	case <-c.clk.After(c.cfg.ResendDelay):
		return true
	}
}

// attempt makes one HTTP exchange. It returns the verified answer; a
// *lostAnswer when there is no answer to read; or an answer that is not
// the channel's (ErrBadSignature), which is not resent: it was received.
func (c *Client) attempt(ctx context.Context, u, body string) (acp.Fields, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		// Even a write that reported an error may have put bytes on the
		// wire: only "never wrote" is certain.
		wrote.Store(true)
	}}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, &lostAnswer{wrote: wrote.Load(), err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, acp.MaxBody+1))
	if err != nil {
		return nil, &lostAnswer{wrote: true, err: fmt.Errorf("answer cut short (HTTP %d): %v", resp.StatusCode, err)}
	}
	f, err := acp.Decode(string(data))
	if err != nil || len(data) > acp.MaxBody || f[acp.FRespCode] == "" {
		// A gateway's error page, or not ACP at all: the channel may have
		// acted, so it is a lost answer, not a refusal.
		return nil, &lostAnswer{wrote: true, err: fmt.Errorf("HTTP %d: not an ACP answer", resp.StatusCode)}
	}
	if err := acp.Verify(c.channel, f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return f, nil
}

// newOrderID is the orderId of an agreement call, which the journal does
// not allocate: random, and reused by the call's resends.
func newOrderID() string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	b := make([]byte, 22)
	_, _ = rand.Read(b) // crypto/rand does not fail
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "MA" + string(b)
}
