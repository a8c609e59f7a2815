package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// A gateway per profile, checking each request the way the profile's
// verifier does, in front of a platform that answers every transaction
// with its infno.

func answer(w http.ResponseWriter, env protocol.Request) protocol.Response {
	if env.Infno == "9001" {
		out, _ := json.Marshal(protocol.SignInOutput{Signinoutb: protocol.SignInResult{SignNo: "25480001"}})
		return protocol.Response{Output: out}
	}
	out, _ := json.Marshal(map[string]string{"infno": env.Infno, "msgid": env.Msgid})
	return protocol.Response{Output: out}
}

func refuse(w http.ResponseWriter, g transport.GatewayRefusal) {
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(g)
}

var lowerHex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestTifSignsEveryAttemptAndTheGatewayRefusesAReplay(t *testing.T) {
	v := transport.TifVerifier{Token: func(p string) (string, bool) { return token, p == "H44190000001" }}
	var mu sync.Mutex
	nonces := map[string]bool{}
	var first http.Header
	var stale atomic.Bool
	stale.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := v.Verify(r.Header, time.Now())
		if err != nil {
			refuse(w, err.(transport.GatewayRefusal))
			return
		}
		if !lowerHex64.MatchString(r.Header.Get(transport.HeaderSignature)) {
			t.Errorf("signature %q is not lowercase hex SHA-256", r.Header.Get(transport.HeaderSignature))
		}
		if ts, _ := strconv.ParseInt(r.Header.Get(transport.HeaderTimestamp), 10, 64); time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
			t.Errorf("timestamp %s is not Unix seconds now", r.Header.Get(transport.HeaderTimestamp))
		}
		mu.Lock()
		replay := nonces[req.Nonce]
		nonces[req.Nonce] = true
		if first == nil {
			first = r.Header.Clone()
		}
		mu.Unlock()
		if replay {
			refuse(w, transport.RefuseReplay)
			return
		}
		var env protocol.Request
		_ = json.NewDecoder(r.Body).Decode(&env)
		if env.Infno == "2207" && stale.Swap(false) {
			refuse(w, transport.RefuseStale) // once: the client signs again
			return
		}
		_ = json.NewEncoder(w).Encode(answer(w, env))
	}))
	defer srv.Close()
	c, err := client.New(config(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Send(context.Background(), request())
	if err != nil || !bytes.Contains(out, []byte(`"infno":"2207"`)) {
		t.Fatalf("Send = %s, %v", out, err)
	}
	// The same headers again are a replay, refused outside the envelope.
	r, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader([]byte(`{}`)))
	r.Header = first
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var g transport.GatewayRefusal
	if res.StatusCode != 401 || json.Unmarshal(body, &g) != nil || g != transport.RefuseReplay {
		t.Fatalf("replayed nonce: %d %s", res.StatusCode, body)
	}
	if _, perr := protocol.ParseAnswer(res.StatusCode, body); perr == nil {
		t.Fatal("the replay refusal read as an envelope")
	}
}

func TestAWrongTokenIsARefusalAtTheDoor(t *testing.T) {
	v := transport.TifVerifier{Token: func(string) (string, bool) { return "the gateway's own token", true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Verify(r.Header, time.Now()); err != nil {
			refuse(w, err.(transport.GatewayRefusal))
			return
		}
		t.Error("a wrong token passed")
	}))
	defer srv.Close()
	c, _ := client.New(config(srv.URL))
	_, err := c.Send(context.Background(), request())
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Kind != protocol.KindDoor || perr.Processed() {
		t.Fatalf("Send = %v; want a refusal at the door", err)
	}
}

// oauthGateway is an oauth_sm gateway: its token endpoint, and a call
// endpoint that checks the Bearer token, decrypts and verifies the input,
// and signs and encrypts the output. wire records each request body as it
// travelled.
type oauthGateway struct {
	gw       *transport.OAuthGateway
	sm4      []byte
	hospital *sm2.PrivateKey
	platform *sm2.PrivateKey
	tokens   atomic.Int32
	mu       sync.Mutex
	wire     [][]byte
}

func newOAuthGateway(t *testing.T) (*oauthGateway, *httptest.Server) {
	t.Helper()
	g := &oauthGateway{sm4: make([]byte, 16), gw: &transport.OAuthGateway{ClientID: "medterm", ClientSecret: "s3cret", Users: map[string]string{"H44190000001": "pw"}}}
	_, _ = rand.Read(g.sm4)
	var err error
	if g.hospital, err = sm2.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if g.platform, err = sm2.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		g.tokens.Add(1)
		g.gw.ServeToken(w, r)
	})
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		if _, err := g.gw.Verify(r.Header); err != nil {
			refuse(w, err.(transport.GatewayRefusal))
			return
		}
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.wire = append(g.wire, body)
		g.mu.Unlock()
		var env protocol.Request
		_ = json.Unmarshal(body, &env)
		if err := transport.OpenRequest(&env, g.sm4, &g.hospital.PublicKey); err != nil {
			refuse(w, transport.RefuseSignature)
			return
		}
		resp := answer(w, env)
		if err := transport.SealAnswer(&resp, g.sm4, g.platform); err != nil {
			t.Error(err)
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *oauthGateway) profile(t *testing.T, url string) *transport.OAuthSM {
	t.Helper()
	p, err := transport.NewOAuthSM(transport.OAuthSMConfig{
		TokenURL: url + "/oauth/token", ClientID: "medterm", ClientSecret: "s3cret", Username: "H44190000001", Password: "pw",
		SignKey: g.hospital, PlatformKey: &g.platform.PublicKey, SM4Key: g.sm4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOAuthSMTokenSignatureAndEncryption(t *testing.T) {
	g, srv := newOAuthGateway(t)
	cfg := config(srv.URL + "/call")
	cfg.Profile = g.profile(t, srv.URL)
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := request()
	req.Input = json.RawMessage(`{"data":{"psn_no":"44190000000000001001","medfee_sumamt":12.34}}`)
	out, err := c.Send(context.Background(), req)
	if err != nil || !bytes.Contains(out, []byte(`"infno":"2207"`)) {
		t.Fatalf("Send = %s, %v", out, err)
	}
	g.mu.Lock()
	wire := g.wire[len(g.wire)-1]
	g.mu.Unlock()
	var env protocol.Request
	_ = json.Unmarshal(wire, &env)
	if bytes.Contains(wire, []byte("psn_no")) || env.EncType != "SM4" || env.Signtype != "SM2" || env.Cainfo == "" || env.Input[0] != '"' {
		t.Fatalf("on the wire: %s", wire)
	}
	// A second request reuses the token; a gateway that forgot it answers
	// 401, and the client fetches a new one and goes through.
	if _, err := c.Send(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	if n := g.tokens.Load(); n != 1 {
		t.Fatalf("%d tokens fetched for two requests", n)
	}
	g.gw.Forget()
	if _, err := c.Send(context.Background(), request()); err != nil {
		t.Fatalf("after the gateway forgot the token: %v", err)
	}
	if n := g.tokens.Load(); n != 2 {
		t.Fatalf("%d tokens fetched; want a new one after the refusal", n)
	}
}

func TestOAuthSMRefusesAnAnswerSignedByAnotherKey(t *testing.T) {
	g, srv := newOAuthGateway(t)
	other, _ := sm2.GenerateKey(rand.Reader)
	p, err := transport.NewOAuthSM(transport.OAuthSMConfig{
		TokenURL: srv.URL + "/oauth/token", ClientID: "medterm", ClientSecret: "s3cret", Username: "H44190000001", Password: "pw",
		SignKey: g.hospital, PlatformKey: &other.PublicKey, SM4Key: g.sm4,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(srv.URL + "/call")
	cfg.Profile = p
	c, _ := client.New(cfg)
	// The sign-in's answer does not verify: no answer is taken, and the
	// request never leaves.
	if _, err := c.Send(context.Background(), request()); !errors.Is(err, agent.ErrUnreachable) {
		t.Fatalf("Send = %v; want unreachable (no verifiable sign-in)", err)
	}
}

func TestNoneSendsNoCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{transport.HeaderSignature, transport.HeaderPaasID, "Authorization"} {
			if r.Header.Get(h) != "" {
				t.Errorf("header %s sent under none", h)
			}
		}
		var env protocol.Request
		_ = json.NewDecoder(r.Body).Decode(&env)
		if env.Signtype != "" || env.Cainfo != "" || env.EncType != "" {
			t.Errorf("envelope protected under none: %+v", env)
		}
		_ = json.NewEncoder(w).Encode(answer(w, env))
	}))
	defer srv.Close()
	cfg := config(srv.URL)
	cfg.Profile = transport.None{}
	c, _ := client.New(cfg)
	if _, err := c.Send(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
}

func TestRealAnswerShapesThroughTheClient(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		check      func(out json.RawMessage, err error) bool
	}{
		{"a string infcode is a success", `{"infcode":"0","err_msg":"","output":{"ok":1}}`,
			func(out json.RawMessage, err error) bool { return err == nil && string(out) == `{"ok":1}` }},
		{"a success without output", `{"infcode":0,"err_msg":""}`,
			func(out json.RawMessage, err error) bool { return err == nil && out == nil }},
		{"infcode 0 with an err_msg is a refusal", `{"infcode":0,"err_msg":"FSI-文件查询号不能为空[fileBO_156]","output":{}}`,
			func(_ json.RawMessage, err error) bool {
				var perr *protocol.Error
				return errors.As(err, &perr) && perr.Processed()
			}},
		{"a body outside the envelope is never a success", `{"code":0,"message":"成功","success":true}`,
			func(_ json.RawMessage, err error) bool { return errors.Is(err, agent.ErrInDoubt) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := platform(t, func(w http.ResponseWriter, r *http.Request, env protocol.Request) { _, _ = io.WriteString(w, tt.body) })
			defer srv.Close()
			c, _ := client.New(config(srv.URL))
			out, err := c.Send(context.Background(), request())
			if !tt.check(out, err) {
				t.Fatalf("Send = %s, %v", out, err)
			}
		})
	}
}
