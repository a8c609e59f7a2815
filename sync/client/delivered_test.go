package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// drop reads the request and hangs up without an answer (delivered).
func drop(w http.ResponseWriter) {
	hj := w.(http.Hijacker)
	conn, _, _ := hj.Hijack()
	conn.Close()
}

func TestDeliveredThenRefusedAtTheDoorIsInDoubt(t *testing.T) {
	for _, code := range []string{protocol.CodeInternal, protocol.CodeBadSignature, protocol.CodeStaleTimestamp} {
		var calls atomic.Int32
		srv := platform(t, func(w http.ResponseWriter, r *http.Request, env protocol.Request) {
			if calls.Add(1) == 1 {
				drop(w) // the platform may have booked it
				return
			}
			_ = json.NewEncoder(w).Encode(protocol.Response{Infcode: -1, ErrCode: code, ErrMsg: "x"})
		})
		c, _ := client.New(config(srv.URL))
		_, err := c.Send(context.Background(), request())
		srv.Close()
		if !errors.Is(err, agent.ErrInDoubt) {
			t.Errorf("%s: Send = %v; want in doubt (the first attempt was delivered)", code, err)
		}
	}
}

func TestDeliveredThenSignInUnreachableIsInDoubt(t *testing.T) {
	var calls, signins atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env protocol.Request
		_ = json.NewDecoder(r.Body).Decode(&env)
		if env.Infno == "9001" {
			if signins.Add(1) == 1 {
				out, _ := json.Marshal(protocol.SignInOutput{Signinoutb: protocol.SignInResult{SignNo: "S-1"}})
				_ = json.NewEncoder(w).Encode(protocol.Response{Output: out})
				return
			}
			drop(w) // platform flapping: sign-in gets nowhere
			return
		}
		switch calls.Add(1) {
		case 1:
			drop(w) // delivered, answer lost
		default:
			_ = json.NewEncoder(w).Encode(protocol.Response{Infcode: -1, ErrCode: protocol.CodeSignExpired, ErrMsg: "restarted"})
		}
	}))
	defer srv.Close()
	c, _ := client.New(config(srv.URL))
	_, err := c.Send(context.Background(), request())
	if !errors.Is(err, agent.ErrInDoubt) {
		t.Errorf("Send = %v; want in doubt (the first attempt was delivered)", err)
	}
}

// Regression: the caller's deadline ends the first attempt after it was
// written: the outcome is unknown, not "certainly not delivered".
func TestDeadlineAfterTheFirstWriteIsInDoubt(t *testing.T) {
	release := make(chan struct{})
	srv := platform(t, func(w http.ResponseWriter, r *http.Request, env protocol.Request) {
		<-release // received (and perhaps booked); the answer is slow
	})
	defer srv.Close()
	defer close(release)
	cfg := config(srv.URL)
	cfg.AttemptTimeout = 5 * time.Second
	c, _ := client.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Send(ctx, request())
	if !errors.Is(err, agent.ErrInDoubt) {
		t.Errorf("Send = %v; want in doubt: the request reached the platform", err)
	}
}
