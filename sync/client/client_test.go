package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

const token = "0123456789abcdef0123456789abcdef"

func config(url string) client.Config {
	var n atomic.Int64
	tif, err := transport.NewTif("H44190000001", token, nil)
	if err != nil {
		panic(err)
	}
	return client.Config{
		URL: url, InstitutionCode: "H44190000001", Region: "441900", DevNo: "T1", Profile: tif,
		AttemptTimeout: 300 * time.Millisecond, RetryWindow: 600 * time.Millisecond, ConnectWindow: 300 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		NextMsgid: func(context.Context) (string, error) {
			return "H44190000001" + "20261123090000" + "01" + string(rune('0'+n.Add(1)%10)) + "0", nil
		},
	}
}

func request() client.Request {
	return client.Request{Infno: "2207", Msgid: "H44190000001202611230900010199", Input: json.RawMessage(`{}`),
		Operator: agent.Operator{ID: "D1", Type: "1"}}
}

// platform answers sign-in, then calls tx for everything else.
func platform(t *testing.T, tx func(w http.ResponseWriter, r *http.Request, env protocol.Request)) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env protocol.Request
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			t.Errorf("decode: %v", err)
		}
		if env.Infno == "9001" {
			out, _ := json.Marshal(protocol.SignInOutput{Signinoutb: protocol.SignInResult{SignNo: "S-" + env.Msgid}})
			_ = json.NewEncoder(w).Encode(protocol.Response{Output: out})
			return
		}
		tx(w, r, env)
	}))
}

func TestConnectionRefusedIsUnreachableNotInDoubt(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := client.New(config("http://" + addr))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), request())
	if !errors.Is(err, agent.ErrUnreachable) || errors.Is(err, agent.ErrInDoubt) {
		t.Fatalf("Send = %v; want unreachable", err)
	}
	if c.Status().Reachable {
		t.Fatal("status says reachable")
	}
}

func TestAnswerThatNeverComesIsInDoubtAfterResendingTheSameMsgid(t *testing.T) {
	var mu sync.Mutex
	var got []string
	release := make(chan struct{})
	srv := platform(t, func(w http.ResponseWriter, r *http.Request, env protocol.Request) {
		mu.Lock()
		got = append(got, env.Msgid)
		mu.Unlock()
		<-release // black hole: the request arrived, no answer leaves
	})
	defer srv.Close()
	defer close(release)
	c, _ := client.New(config(srv.URL))
	_, err := c.Send(context.Background(), request())
	if !errors.Is(err, agent.ErrInDoubt) {
		t.Fatalf("Send = %v; want in doubt", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 2 {
		t.Fatalf("sent %d times; want resends within the window", len(got))
	}
	for _, m := range got {
		if m != request().Msgid {
			t.Fatalf("resent under msgid %s; want %s every time", m, request().Msgid)
		}
	}
}

func TestExpiredSessionSignsInAgainAndResends(t *testing.T) {
	var calls atomic.Int32
	srv := platform(t, func(w http.ResponseWriter, r *http.Request, env protocol.Request) {
		if calls.Add(1) == 1 {
			_ = json.NewEncoder(w).Encode(protocol.Response{Infcode: -1, ErrMsg: "签到信息已失效，请重新签到(0123456789abcdef0123456789abcdef@10.0.0.8)"})
			return
		}
		if !strings.HasPrefix(env.SignNo, "S-") {
			t.Errorf("resent without a session: %q", env.SignNo)
		}
		_ = json.NewEncoder(w).Encode(protocol.Response{Output: json.RawMessage(`{"ok":1}`)})
	})
	defer srv.Close()
	c, _ := client.New(config(srv.URL))
	out, err := c.Send(context.Background(), request())
	if err != nil || string(out) != `{"ok":1}` {
		t.Fatalf("Send = %s, %v", out, err)
	}
}

func TestProcessedFailureIsReturnedAsIs(t *testing.T) {
	srv := platform(t, func(w http.ResponseWriter, r *http.Request, env protocol.Request) {
		_ = json.NewEncoder(w).Encode(protocol.Response{Infcode: -1, ErrCode: protocol.CodeNotFound, ErrMsg: "no such person"})
	})
	defer srv.Close()
	c, _ := client.New(config(srv.URL))
	_, err := c.Send(context.Background(), request())
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeNotFound || !perr.Processed() {
		t.Fatalf("Send = %v; want the platform's NOT_FOUND", err)
	}
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for url, ok := range map[string]bool{
		"http://127.0.0.1:8960":    true,
		"http://localhost:8960":    true,
		"https://gw.example.org/a": true,
		"http://gw.example.org/a":  false,
		"http://10.0.0.5:8960":     false,
		"ftp://127.0.0.1":          false,
		"not a url":                false,
	} {
		_, err := client.New(config(url))
		if (err == nil) != ok {
			t.Errorf("New(%s) = %v; want ok=%v", url, err, ok)
		}
	}
	// The hospital's front-end machine is reached over its LAN by http.
	for url, ok := range map[string]bool{
		"http://10.0.0.5:8960/fsi":     true,
		"http://192.168.1.20:8080":     true,
		"http://gw.example.org/a":      false,
		"http://203.0.113.9:8080/call": false,
	} {
		cfg := config(url)
		cfg.Profile = transport.None{}
		if _, err := client.New(cfg); (err == nil) != ok {
			t.Errorf("New(%s) under none = %v; want ok=%v", url, err, ok)
		}
	}
}

func TestBreakerOpensAfterFailuresAndLetsOneProbeThroughAfterCooldown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepts atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			conn.Close() // a platform that hangs up on everything
		}
	}()
	fc := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, protocol.CST))
	cfg := config("http://" + ln.Addr().String())
	cfg.Clock, cfg.ConnectWindow, cfg.RetryWindow = fc, time.Nanosecond, time.Nanosecond
	cfg.BreakerThreshold, cfg.BreakerCooldown = 2, 10*time.Second
	var changes []bool
	cfg.OnChange = func(online bool) { changes = append(changes, online) }
	c, _ := client.New(cfg)
	for i := 0; i < 2; i++ {
		if _, err := c.Send(context.Background(), request()); err == nil {
			t.Fatal("a failing platform answered")
		}
	}
	before := accepts.Load()
	if c.Available() {
		t.Fatal("breaker still closed after 2 failures")
	}
	_, err = c.Send(context.Background(), request())
	if !errors.Is(err, agent.ErrUnreachable) || !strings.Contains(err.Error(), "circuit open") || accepts.Load() != before {
		t.Fatalf("open breaker: %v, %d new connections; want a fast local refusal", err, accepts.Load()-before)
	}
	fc.Advance(10 * time.Second)
	if !c.Available() {
		t.Fatal("breaker not half-open after the cool-down")
	}
	_, _ = c.Send(context.Background(), request())
	if accepts.Load() == before {
		t.Fatal("no probe went out after the cool-down")
	}
	if len(changes) != 1 || changes[0] {
		t.Fatalf("state changes %v; want one change to offline", changes)
	}
}
