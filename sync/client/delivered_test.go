package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// drop reads the request and hangs up without an answer (delivered).
func drop(w http.ResponseWriter) {
	hj := w.(http.Hijacker)
	conn, _, _ := hj.Hijack()
	conn.Close()
}

func TestDeliveredThenRefusedAtTheDoorIsInDoubt(t *testing.T) {
	for _, door := range []any{
		protocol.Response{Infcode: -1, ErrMsg: "系统内部错误，请求未处理，请稍后重试"},
		transport.RefuseSignature,
		transport.RefuseStale,
	} {
		var calls atomic.Int32
		srv := platform(t, func(w http.ResponseWriter, r *http.Request, env protocol.Request) {
			if calls.Add(1) == 1 {
				drop(w) // the platform may have booked it
				return
			}
			if _, gateway := door.(transport.GatewayRefusal); gateway {
				w.WriteHeader(http.StatusUnauthorized)
			}
			_ = json.NewEncoder(w).Encode(door)
		})
		code := fmt.Sprint(door)
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
			_ = json.NewEncoder(w).Encode(protocol.Response{Infcode: -1, ErrMsg: "签到信息不存在，请重新签到"})
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
