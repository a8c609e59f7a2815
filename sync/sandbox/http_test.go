package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

func personQuery(certNo string) protocol.PersonInfoInput {
	return protocol.PersonInfoInput{Data: protocol.PersonQuery{MdtrtCertType: protocol.CertIDNo, MdtrtCertNo: certNo}}
}

func TestSignInOpensASession(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	if len(h.signNo) != 32 {
		t.Fatalf("sign_no %q", h.signNo)
	}
	resp := h.call("1101", personQuery(h.person("acct-first").Certno))
	out := output[protocol.PersonInfoOutput](t, resp)
	if out.Baseinfo.PsnNo != h.person("acct-first").PsnNo {
		t.Fatalf("1101 answered %+v", out.Baseinfo)
	}
	if len(resp.InfRefmsgid) != 30 || !strings.HasPrefix(resp.InfRefmsgid, "44190020261123100000") {
		t.Fatalf("inf_refmsgid %q is not region + time + serial", resp.InfRefmsgid)
	}
	if resp.RespondTime != "20261123100000000" {
		t.Fatalf("respond_time %q", resp.RespondTime)
	}
}

func TestTheGatewayRefusesOutsideTheEnvelope(t *testing.T) {
	// The tif gateway's own refusals, as HN-SPEC's 服务网关调用说明 lists
	// them: HTTP 401 and {"code":401,"message":…}, no envelope.
	tests := []struct {
		name string
		sign func(h *harness, r *http.Request)
		want transport.GatewayRefusal
	}{
		{"a signature by another token", func(h *harness, r *http.Request) { signTif(r, "another-token", h.clock.Now()) }, transport.RefuseSignature},
		{"no signature header", func(h *harness, r *http.Request) { r.Header.Del(transport.HeaderSignature) }, transport.RefuseMissingHeaders},
		{"an unknown paasid", func(h *harness, r *http.Request) { r.Header.Set(transport.HeaderPaasID, "H00000000000") }, transport.RefuseUnknownUser},
		{"a timestamp past the window", func(h *harness, r *http.Request) {
			signTif(r, string(secrets[h.inst]), h.clock.Now().Add(-transport.DefaultTifWindow-time.Second))
		}, transport.RefuseStale},
		{"a timestamp ahead of the window", func(h *harness, r *http.Request) {
			signTif(r, string(secrets[h.inst]), h.clock.Now().Add(transport.DefaultTifWindow+time.Second))
		}, transport.RefuseStale},
		{"a paasid other than the envelope's institution", func(h *harness, r *http.Request) {
			r.Header.Set(transport.HeaderPaasID, inst2)
			signTif(r, string(secrets[inst2]), h.clock.Now())
		}, transport.RefuseUnknownUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.signIn()
			body := h.envelope("1101", h.nextMsgid(), personQuery(h.person("acct-first").Certno))
			status, g := h.gatewayAnswer(h.request(body, func(r *http.Request) { tt.sign(h, r) }))
			if status != http.StatusUnauthorized || g != tt.want {
				t.Fatalf("HTTP %d %+v, want 401 %+v", status, g, tt.want)
			}
		})
	}
}

func TestTheSignatureIsCheckedCaseInsensitively(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	body := h.envelope("1101", h.nextMsgid(), personQuery(h.person("acct-first").Certno))
	status, resp := h.post("1101", body, func(r *http.Request) {
		r.Header.Set(transport.HeaderSignature, strings.ToUpper(r.Header.Get(transport.HeaderSignature)))
	})
	if status != 200 || !resp.OK() {
		t.Fatalf("uppercase signature: %d %+v", status, resp)
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	tests := []struct {
		name   string
		body   func(h *harness) []byte
		status int
		code   string
	}{
		{name: "a body over 1 MiB", status: 400, code: protocol.CodeBadRequest,
			body: func(h *harness) []byte { return bytes.Repeat([]byte(" "), protocol.MaxBody+1) }},
		{name: "malformed JSON", status: 400, code: protocol.CodeBadRequest,
			body: func(h *harness) []byte { return []byte(`{"infno":"1101","fixmedins_code":"` + inst + `",`) }},
		{name: "an input of the wrong shape", status: 400, code: protocol.CodeBadRequest,
			body: func(h *harness) []byte { return h.envelope("1101", h.nextMsgid(), map[string]any{"data": "x"}) }},
		{name: "an unknown transaction", status: 400, code: protocol.CodeUnknownTx,
			body: func(h *harness) []byte { return h.envelope("9999", h.nextMsgid(), personQuery("x")) }},
		{name: "a msgid of another institution", status: 400, code: protocol.CodeBadRequest,
			body: func(h *harness) []byte {
				return h.envelope("1101", inst2+h.nextMsgid()[12:], personQuery("x"))
			}},
		{name: "a malformed msgid", status: 400, code: protocol.CodeBadRequest,
			body: func(h *harness) []byte { return h.envelope("1101", inst+"2026", personQuery("x")) }},
		{name: "no session", status: 200, code: protocol.CodeSignExpired,
			body: func(h *harness) []byte {
				h.signNo = ""
				return h.envelope("1101", h.nextMsgid(), personQuery("x"))
			}},
		{name: "an invented session", status: 200, code: protocol.CodeSignExpired,
			body: func(h *harness) []byte {
				h.signNo = strings.Repeat("0", 32)
				return h.envelope("1101", h.nextMsgid(), personQuery("x"))
			}},
	}
	classifier := protocol.MustClassifier(protocol.DefaultPatterns())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.signIn()
			status, resp := h.post("1101", tt.body(h), nil)
			if status != tt.status {
				t.Errorf("HTTP %d, want %d", status, tt.status)
			}
			refused(t, resp, tt.code)
			if resp.ErrMsg == "" || resp.InfRefmsgid == "" || resp.RespondTime == "" {
				t.Errorf("refusal lacks a message or reference: %+v", resp)
			}
			// The message is a real platform's: Chinese first, a trace
			// suffix, and a kind the default patterns find.
			if f := classifier.Failure("1101", &resp); f.TraceID == "" || (tt.code == protocol.CodeSignExpired) != (f.Kind == protocol.KindSignIn) {
				t.Errorf("err_msg %q: trace %q, kind %s", resp.ErrMsg, f.TraceID, f.Kind)
			}
		})
	}
}

func TestUnknownFieldsAreAcceptedAsRealPlatformsDo(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	body := withField(t, h.envelope("1101", h.nextMsgid(), map[string]any{"data": map[string]any{
		"mdtrt_cert_type": "02", "mdtrt_cert_no": h.person("acct-first").Certno, "shoe_size": 42}}), "app_id", "X1")
	status, resp := h.post("1101", body, nil)
	if status != 200 || !resp.OK() {
		t.Fatalf("unknown fields: %d %s %s", status, resp.ErrCode, resp.ErrMsg)
	}
}

// signTif sets the tif headers again, signed with token at a time.
func signTif(r *http.Request, token string, at time.Time) {
	ts := strconv.FormatInt(at.Unix(), 10)
	r.Header.Set(transport.HeaderTimestamp, ts)
	r.Header.Set(transport.HeaderSignature, transport.TifSignature(ts, token, r.Header.Get(transport.HeaderNonce)))
}

func withField(t *testing.T, body []byte, key string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = value
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestANonceIsSingleUse(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	body := h.envelope("1101", h.nextMsgid(), personQuery(h.person("acct-first").Certno))
	var headers http.Header
	status, resp := h.post("1101", body, func(r *http.Request) { headers = r.Header.Clone() })
	if status != 200 || resp.Infcode != 0 {
		t.Fatalf("first send: %d %+v", status, resp)
	}
	status, g := h.gatewayAnswer(h.request(body, func(r *http.Request) { r.Header = headers }))
	if status != http.StatusUnauthorized || g != transport.RefuseReplay {
		t.Fatalf("replayed nonce: HTTP %d %+v, want 401 %+v", status, g, transport.RefuseReplay)
	}
	// The nonce is remembered across a restart too.
	h.reopen()
	status, g = h.gatewayAnswer(h.request(body, func(r *http.Request) { r.Header = headers }))
	if status != http.StatusUnauthorized || g != transport.RefuseReplay {
		t.Fatalf("replayed nonce after reopen: HTTP %d %+v", status, g)
	}
}

func TestADoorRefusalIsNotStoredUnderTheMsgid(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	msgid := h.nextMsgid()
	bad := h.envelope("1101", msgid, map[string]any{"data": []int{1}})
	if status, resp := h.post("1101", bad, nil); status != 400 {
		t.Fatalf("malformed input: %d %+v", status, resp)
	}
	// The fixed request under the same msgid is processed, not a conflict.
	out := output[protocol.PersonInfoOutput](t, h.callAs("1101", msgid, personQuery(h.person("acct-first").Certno)))
	if out.Baseinfo.PsnNo == "" {
		t.Fatal("no person")
	}
}

func TestSessions(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	certno := h.person("acct-first").Certno
	output[protocol.PersonInfoOutput](t, h.call("1101", personQuery(certno)))

	if err := h.p.ExpireSessions(); err != nil {
		t.Fatal(err)
	}
	msgid := h.nextMsgid()
	refused(t, h.callAs("1101", msgid, personQuery(certno)), protocol.CodeSignExpired)
	h.signIn()
	// SIGN_EXPIRED is a door refusal: the same msgid goes through after
	// signing in again.
	output[protocol.PersonInfoOutput](t, h.callAs("1101", msgid, personQuery(certno)))

	h.clock.Advance(12*time.Hour - time.Second)
	output[protocol.PersonInfoOutput](t, h.call("1101", personQuery(certno)))
	h.clock.Advance(time.Second)
	refused(t, h.call("1101", personQuery(certno)), protocol.CodeSignExpired)

	h.signIn()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/admin/sessions/expire", nil)
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("admin expire: %d", res.StatusCode)
	}
	refused(t, h.call("1101", personQuery(certno)), protocol.CodeSignExpired)
}

func TestASessionBelongsToItsInstitution(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	h.inst = inst2
	h.msgids = protocol.MsgidClock{}
	refused(t, h.call("1101", personQuery(h.person("acct-first").Certno)), protocol.CodeSignExpired)
}

func TestMsgidReplay(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	msgid := h.nextMsgid()
	first := h.callAs("1101", msgid, personQuery(h.person("acct-first").Certno))
	output[protocol.PersonInfoOutput](t, first)

	again := h.callAs("1101", msgid, personQuery(h.person("acct-first").Certno))
	if !strings.Contains(again.WarnMsg, protocol.CodeDuplicate) {
		t.Fatalf("replay warn_msg %q, want DUPLICATE", again.WarnMsg)
	}
	again.WarnMsg = ""
	if !equalJSON(t, first, again) {
		t.Fatalf("replay differs:\n%+v\n%+v", first, again)
	}

	refused(t, h.callAs("1101", msgid, personQuery(h.person("bank-card").Certno)), protocol.CodeMsgidConflict)

	// A processed failure is an answer too, replayed like a success, even
	// after a restart.
	failed := h.nextMsgid()
	refused(t, h.callAs("1101", failed, personQuery("110105194912310021")), protocol.CodeNotFound)
	h.reopen()
	replayed := h.callAs("1101", failed, personQuery("110105194912310021"))
	refused(t, replayed, protocol.CodeNotFound)
	if !strings.Contains(replayed.WarnMsg, protocol.CodeDuplicate) {
		t.Fatalf("replayed failure warn_msg %q", replayed.WarnMsg)
	}
	// Whitespace in the input does not make another request.
	body := bytes.Replace(h.envelope("1101", msgid, personQuery(h.person("acct-first").Certno)), []byte(`{"data":{`), []byte(`{ "data" : {`), 1)
	if _, resp := h.post("1101", body, nil); !strings.Contains(resp.WarnMsg, protocol.CodeDuplicate) {
		t.Fatalf("reformatted replay: %+v", resp)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestHostMustBeLoopback(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	body := h.envelope("1101", h.nextMsgid(), personQuery(h.person("acct-first").Certno))
	status, resp := h.post("1101", body, func(r *http.Request) { r.Host = "medterm.example.com" })
	if status != http.StatusForbidden {
		t.Fatalf("rebinding host: HTTP %d", status)
	}
	refused(t, resp, protocol.CodeBadRequest)
	for _, host := range []string{"localhost:8080", "127.0.0.1", "[::1]:9", "127.1.2.3:80"} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/admin/health", nil)
		r.Host, r.RemoteAddr = host, "127.0.0.1:5000"
		h.p.Handler().ServeHTTP(rec, r)
		if rec.Code != 200 {
			t.Errorf("host %s: %d", host, rec.Code)
		}
	}
}

func TestAdminAnswersLoopbackPeersOnly(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/admin/ledger", "/admin/health", "/admin/outage"} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Host, r.RemoteAddr = "127.0.0.1", "192.0.2.7:40000"
		h.p.Handler().ServeHTTP(rec, r)
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s from a remote peer: %d", path, rec.Code)
		}
	}
	res, err := h.srv.Client().Get(h.srv.URL + "/admin/ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var l struct {
		People []struct {
			Key string `json:"key"`
		} `json:"people"`
	}
	if err := json.NewDecoder(res.Body).Decode(&l); err != nil || len(l.People) != len(h.data.People) {
		t.Fatalf("ledger over HTTP: %v, %d people", err, len(l.People))
	}
}
