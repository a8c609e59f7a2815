package transport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The tif gateway's headers.
const (
	HeaderPaasID    = "x-tif-paasid"
	HeaderTimestamp = "x-tif-timestamp"
	HeaderNonce     = "x-tif-nonce"
	HeaderSignature = "x-tif-signature"
)

// DefaultTifWindow is how far a request's timestamp may be from the
// gateway's clock when the verifier is not told otherwise. The gateway's
// real window is not published; HN-SPEC's AK/SK gateway allows 30
// minutes, and a tighter window makes a replay harder.
const DefaultTifWindow = 5 * time.Minute

// maxNonceLen bounds a nonce: one implementation sends hex(ms)-hex(24
// bits), ours 32 hex digits.
const maxNonceLen = 64

// TifSignature is the x-tif-signature of a request: the lowercase hex
// SHA-256 of timestamp + token + nonce + timestamp.
func TifSignature(timestamp, token, nonce string) string {
	sum := sha256.Sum256([]byte(timestamp + token + nonce + timestamp))
	return hex.EncodeToString(sum[:])
}

// Tif is the client side of the tif profile.
type Tif struct {
	paasID, token string
	clock         clock.Clock
}

// NewTif returns the tif profile of a paasid and its token.
func NewTif(paasID, token string, clk clock.Clock) (*Tif, error) {
	if paasID == "" || strings.TrimSpace(token) == "" {
		return nil, fmt.Errorf("%w: tif needs a paasid and a token", ErrConfig)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Tif{paasID: paasID, token: token, clock: clk}, nil
}

func (t *Tif) Name() string { return AuthTif }

// Seal leaves the body as it is: the tif gateway signs no body.
func (t *Tif) Seal(env *protocol.Request) error {
	env.Signtype, env.Cainfo, env.EncType = "", "", ""
	return nil
}

// Authorize draws a fresh nonce and timestamp and signs them.
func (t *Tif) Authorize(_ context.Context, r *http.Request) error {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return fmt.Errorf("tif nonce: %w", err)
	}
	ts := strconv.FormatInt(t.clock.Now().Unix(), 10)
	nonce := hex.EncodeToString(n[:])
	r.Header.Set(HeaderPaasID, t.paasID)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderSignature, TifSignature(ts, t.token, nonce))
	return nil
}

func (t *Tif) Open(*protocol.Response) error { return nil }
func (t *Tif) Reject()                       {}

// TifVerifier is the gateway's side of tif. Nonces are the caller's to
// keep: Verify returns the one to record, and a nonce seen before is a
// replay (RefuseReplay).
type TifVerifier struct {
	// Token returns the token of a paasid, false for an unknown one.
	Token func(paasID string) (string, bool)
	// Window bounds the timestamp's distance from now; DefaultTifWindow
	// when zero.
	Window time.Duration
}

// TifRequest is what a verified request names.
type TifRequest struct {
	PaasID, Nonce string
	Timestamp     time.Time
}

// Verify checks a request's tif headers at now. The signature is
// compared case-insensitively: several implementations send uppercase
// hex, the national portal lowercase.
func (v TifVerifier) Verify(h http.Header, now time.Time) (TifRequest, error) {
	paas, ts, nonce, sig := h.Get(HeaderPaasID), h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature)
	if paas == "" || ts == "" || nonce == "" || sig == "" {
		return TifRequest{}, RefuseMissingHeaders
	}
	if len(nonce) > maxNonceLen {
		return TifRequest{}, RefuseMissingHeaders
	}
	token, ok := v.Token(paas)
	if !ok {
		return TifRequest{}, RefuseUnknownUser
	}
	want := TifSignature(ts, token, nonce)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) != 1 {
		return TifRequest{}, RefuseSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return TifRequest{}, RefuseStale
	}
	window := v.Window
	if window <= 0 {
		window = DefaultTifWindow
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > window || d < -window {
		return TifRequest{}, RefuseStale
	}
	return TifRequest{PaasID: paas, Nonce: nonce, Timestamp: at}, nil
}
