package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptrace"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// answer is what one exchange brought back: an envelope's output, or the
// file of a 9102.
type answer struct {
	output json.RawMessage
	file   []byte
}

// Send implements agent.Platform: it returns the output of a success
// (nil when the success carries none, as 2601's does).
func (c *Client) Send(ctx context.Context, req Request) (json.RawMessage, error) {
	a, err := c.do(ctx, req, false)
	return a.output, err
}

// Download sends a 9102 (or any transaction answered with a file) and
// returns the file.
func (c *Client) Download(ctx context.Context, req Request) ([]byte, error) {
	a, err := c.do(ctx, req, true)
	return a.file, err
}

func (c *Client) do(ctx context.Context, req Request, file bool) (answer, error) {
	if err := protocol.ValidMsgid(req.Msgid); err != nil {
		return answer{}, fmt.Errorf("send %s: %w", req.Infno, err)
	}
	if !c.brk.allow(c.cfg.Clock.Now()) {
		return answer{}, fmt.Errorf("send %s: %w: circuit open after repeated failures", req.Infno, agent.ErrUnreachable)
	}
	out, err := c.send(ctx, req, file)
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

func (c *Client) send(ctx context.Context, req Request, file bool) (answer, error) {
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
				return answer{}, inDoubt(err)
			}
			return answer{}, err
		}
		out, err := c.exchange(ctx, req, signNo, file)
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
			if perr.Kind == protocol.KindSignIn {
				c.expire(signNo)
				if r.renewals++; r.renewals <= 3 {
					continue
				}
			}
			if perr.Kind == protocol.KindDoor && r.reSigned < 1 {
				// A fresh nonce, timestamp and token are drawn on every
				// attempt: one refusal at the door (a clock step, a token
				// the gateway forgot) is worth one more try.
				r.reSigned++
				continue
			}
			if r.delivered && !perr.Processed() {
				return answer{}, inDoubt(err) // this attempt was refused, an earlier one may not have been
			}
			return answer{}, err
		case ctx.Err() != nil:
			if r.delivered {
				return answer{}, inDoubt(ctx.Err())
			}
			return answer{}, fmt.Errorf("send %s: %w: %v", req.Infno, agent.ErrUnreachable, ctx.Err())
		case sendErr == nil:
			return answer{}, err
		}
		c.noteError(err)
		if werr := r.wait(ctx, sendErr); werr != nil {
			if r.delivered {
				return answer{}, inDoubt(err)
			}
			c.log.Warn("platform unreachable", "infno", req.Infno, "attempts", r.attempts, "err", err)
			return answer{}, fmt.Errorf("send %s: %w: %v", req.Infno, agent.ErrUnreachable, err)
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

// maxFile bounds a downloaded file (a day's reconciliation result).
const maxFile = 32 << 20

// exchange makes one HTTP attempt.
func (c *Client) exchange(ctx context.Context, req Request, signNo string, file bool) (answer, error) {
	now := c.cfg.Clock.Now()
	env := protocol.Request{
		Infno:          req.Infno,
		Msgid:          req.Msgid,
		MdtrtareaAdmvs: c.cfg.Region,
		InsuplcAdmdvs:  req.InsuplcAdmdvs,
		RecerSysCode:   c.cfg.RecerSysCode,
		DevNo:          c.cfg.DevNo,
		Infver:         c.cfg.Infver,
		OpterType:      req.Operator.Type,
		Opter:          req.Operator.ID,
		OpterName:      req.Operator.Name,
		InfTime:        protocol.FormatInfTime(now),
		FixmedinsCode:  c.cfg.InstitutionCode,
		FixmedinsName:  c.cfg.InstitutionName,
		SignNo:         signNo,
		Input:          req.Input,
	}
	if err := c.cfg.Profile.Seal(&env); err != nil {
		return answer{}, fmt.Errorf("seal %s: %w", req.Infno, err)
	}
	body, err := json.Marshal(env)
	if err != nil {
		return answer{}, fmt.Errorf("encode %s envelope: %w", req.Infno, err)
	}
	var delivered bool
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		// Even a write that reported an error may have put bytes on the
		// wire: count it as delivered. Only "never wrote" is certain.
		delivered = true
	}}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("%s request: %w", req.Infno, err)
	}
	hreq.Header.Set("Content-Type", "application/json; charset=utf-8")
	if err := c.cfg.Profile.Authorize(ctx, hreq); err != nil {
		// Nothing was sent: a token that could not be fetched is an
		// unreachable gateway.
		return answer{}, &attemptError{err: fmt.Errorf("authorize %s: %w", req.Infno, err)}
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return answer{}, &attemptError{delivered: delivered, err: err}
	}
	defer resp.Body.Close()
	limit := int64(protocol.MaxBody)
	if file {
		limit = maxFile
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil || int64(len(data)) > limit {
		// An answer cut short: the platform may have acted.
		return answer{}, &attemptError{delivered: true, err: fmt.Errorf("%s answer (HTTP %d): cut short or too large: %v", req.Infno, resp.StatusCode, err)}
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); file && ct == protocol.FileContentType && resp.StatusCode == http.StatusOK {
		return answer{file: data}, nil
	}
	return c.read(req.Infno, resp.StatusCode, data, file)
}

// read turns an answer body into an output or a failure.
func (c *Client) read(infno string, status int, data []byte, file bool) (answer, error) {
	env, err := protocol.ParseAnswer(status, data)
	var gw *protocol.GatewayError
	switch {
	case errors.As(err, &gw) && gw.AtDoor():
		c.cfg.Profile.Reject()
		return answer{}, protocol.GatewayFailure(infno, gw)
	case err != nil:
		// A proxy's error page, a body outside the envelope from behind
		// the door, a truncated answer: never a success, and the platform
		// may have acted, so it is a lost answer, not a refusal.
		return answer{}, &attemptError{delivered: true, err: fmt.Errorf("%s answer (HTTP %d): %w", infno, status, err)}
	}
	if err := c.cfg.Profile.Open(env); err != nil {
		return answer{}, &attemptError{delivered: true, err: fmt.Errorf("%s answer: %w", infno, err)}
	}
	if !env.OK() {
		return answer{}, c.cfg.Classifier.Failure(infno, env)
	}
	if file {
		return answer{}, fmt.Errorf("%w: %s answered an envelope where a file belongs", protocol.ErrMalformed, infno)
	}
	return answer{output: env.Output}, nil
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
	req := Request{
		Infno: protocol.SignIn.Infno, Msgid: msgid, Input: in,
		Operator: agent.Operator{ID: c.cfg.DevNo, Name: c.cfg.DevNo, Type: protocol.OpterKiosk},
	}
	// Sign-in is retried like any request but must not recurse into
	// session(): exchange is called directly, without a sign_no.
	r := retrier{c: c, start: c.cfg.Clock.Now()}
	for {
		a, err := c.exchange(ctx, req, "", false)
		if err == nil {
			out, err := protocol.SignIn.DecodeOutput(a.output)
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
		var perr *protocol.Error
		if errors.As(err, &perr) && perr.Kind == protocol.KindDoor && r.reSigned < 1 {
			r.reSigned++
			continue
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
