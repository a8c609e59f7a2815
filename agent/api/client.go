package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls a running agent's API. The window CLI and the demo use it.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// ErrDaemonDown means nothing answered at the API address.
var ErrDaemonDown = errors.New("the medterm daemon is not running (or not at this address)")

// APIError is an error answer of the API.
type APIError struct {
	Status    int
	Code      string
	Message   string
	MessageZH string // what the cashier reads, when the API gave it
	MessageEN string
}

// Error puts what the cashier reads first (Chinese, then English), then
// the code and the detail.
func (e *APIError) Error() string {
	if e.MessageZH != "" {
		return fmt.Sprintf("%s / %s [%s (%d): %s]", e.MessageZH, e.MessageEN, e.Code, e.Status, e.Message)
	}
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

// NewClient returns a client for the API at addr (host:port) with token.
func NewClient(addr, token string) *Client {
	return &Client{
		base:  &url.URL{Scheme: "http", Host: addr},
		token: strings.TrimSpace(token),
		// Long enough for a settlement whose platform answer is lost and
		// retried: the agent decides the outcome, not this timeout.
		http: &http.Client{Timeout: 3 * time.Minute},
	}
}

// Do sends method path with body (nil for none) and decodes the answer into
// out. It returns the HTTP status.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	u, err := c.base.Parse(path)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.finish(req, method, path, out)
}

// finish sends req and decodes the answer into out.
func (c *Client) finish(req *http.Request, method, path string, out any) (int, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) && isRefused(err) {
			return 0, fmt.Errorf("%w: %s", ErrDaemonDown, c.base.Host)
		}
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 400 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			return resp.StatusCode, &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message,
				MessageZH: eb.Error.MessageZH, MessageEN: eb.Error.MessageEN}
		}
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(string(data))}
	}
	if out != nil {
		if s, ok := out.(*string); ok {
			*s = string(data)
			return resp.StatusCode, nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func isRefused(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "actively refused")
}

// Settle posts a bill under an idempotency key.
func (c *Client) Settle(ctx context.Context, key string, body SettleBody) (SettlementView, error) {
	var v SettlementView
	_, err := c.Do(ctx, http.MethodPost, "/v1/settlements", http.Header{"Idempotency-Key": {key}}, body, &v)
	return v, err
}

// Get fetches one settlement.
func (c *Client) Get(ctx context.Context, id string, reveal bool) (SettlementView, error) {
	var v SettlementView
	p := "/v1/settlements/" + url.PathEscape(id)
	if reveal {
		p += "?reveal=true"
	}
	_, err := c.Do(ctx, http.MethodGet, p, nil, nil, &v)
	return v, err
}

// List fetches settlements, newest first.
func (c *Client) List(ctx context.Context, states string, limit int, reveal bool) ([]SettlementView, error) {
	q := url.Values{}
	if states != "" {
		q.Set("state", states)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if reveal {
		q.Set("reveal", "true")
	}
	var out ListBody
	_, err := c.Do(ctx, http.MethodGet, "/v1/settlements?"+q.Encode(), nil, nil, &out)
	return out.Settlements, err
}

// Refund asks for a refund. A 202 answer (sent, not yet answered) is
// returned with the settlement and no error; its state says refunding.
func (c *Client) Refund(ctx context.Context, id string, body RefundBody) (SettlementView, error) {
	var v SettlementView
	_, err := c.Do(ctx, http.MethodPost, "/v1/settlements/"+url.PathEscape(id)+"/refund", nil, body, &v)
	return v, err
}

// Collect records the patient's part as paid at the window by another
// channel.
func (c *Client) Collect(ctx context.Context, id string, body CollectBody) (SettlementView, error) {
	var v SettlementView
	_, err := c.Do(ctx, http.MethodPost, "/v1/settlements/"+url.PathEscape(id)+"/collect", nil, body, &v)
	return v, err
}

// Confirm records the patient's confirmation of a part that needs it, and
// has it taken.
func (c *Client) Confirm(ctx context.Context, id string, body ConfirmBody) (SettlementView, error) {
	var v SettlementView
	_, err := c.Do(ctx, http.MethodPost, "/v1/settlements/"+url.PathEscape(id)+"/confirm", nil, body, &v)
	return v, err
}

// ReceiptText fetches the printable receipt.
func (c *Client) ReceiptText(ctx context.Context, id string) (string, error) {
	var s string
	_, err := c.Do(ctx, http.MethodGet, "/v1/settlements/"+url.PathEscape(id)+"/receipt?format=text", nil, nil, &s)
	return s, err
}

// Status fetches the agent's status into out.
func (c *Client) Status(ctx context.Context, out any) error {
	_, err := c.Do(ctx, http.MethodGet, "/v1/status", nil, nil, out)
	return err
}

// DoRaw sends a body of the given content type (an image) and decodes the
// JSON answer into out.
func (c *Client) DoRaw(ctx context.Context, method, path, contentType string, body []byte, out any) (int, error) {
	u, err := c.base.Parse(path)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", contentType)
	return c.finish(req, method, path, out)
}

// Stream opens a Server-Sent Events stream; the caller closes it.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	u, err := c.base.Parse(path)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{}).Do(req) // no timeout: a stream lasts
	if err != nil {
		if isRefused(err) {
			return nil, fmt.Errorf("%w: %s", ErrDaemonDown, c.base.Host)
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return nil, &APIError{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(string(data))}
	}
	return resp.Body, nil
}
