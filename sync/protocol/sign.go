package protocol

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// Signing headers.
const (
	HeaderDevNo     = "X-Dev-No"
	HeaderTimestamp = "X-Timestamp"
	HeaderNonce     = "X-Nonce"
	HeaderSignature = "X-Signature"
)

// MaxClockSkew is how far a request's timestamp may be from the platform's
// clock.
const MaxClockSkew = 300 * time.Second

// Signature errors.
var (
	ErrBadSignature   = errors.New("bad signature")
	ErrStaleTimestamp = errors.New("timestamp outside the allowed window")
)

// Signature returns hex HMAC-SM3 over timestamp "\n" nonce "\n" body.
func Signature(secret []byte, timestamp, nonce string, body []byte) string {
	m := hmac.New(sm3.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'\n'})
	m.Write([]byte(nonce))
	m.Write([]byte{'\n'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign sets the signing headers on r for body. Each call draws a fresh
// nonce: a resent request is a new signed message carrying the same msgid.
func Sign(r *http.Request, devNo string, secret, body []byte, now time.Time) error {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return fmt.Errorf("sign: nonce: %w", err)
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	nonce := hex.EncodeToString(n[:])
	r.Header.Set(HeaderDevNo, devNo)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderSignature, Signature(secret, ts, nonce, body))
	return nil
}

// Verify checks the signature and the timestamp window of a request. The
// nonce's single use is the caller's to check, since only it keeps state.
func Verify(h http.Header, secret, body []byte, now time.Time) error {
	ts, nonce, sig := h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature)
	if ts == "" || nonce == "" || sig == "" {
		return fmt.Errorf("%w: missing signing headers", ErrBadSignature)
	}
	if len(nonce) > 64 {
		return fmt.Errorf("%w: nonce too long", ErrBadSignature)
	}
	want, err := hex.DecodeString(Signature(secret, ts, nonce, body))
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrStaleTimestamp, ts)
	}
	skew := now.Sub(time.UnixMilli(ms))
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		return fmt.Errorf("%w: %s off", ErrStaleTimestamp, skew.Round(time.Second))
	}
	return nil
}
