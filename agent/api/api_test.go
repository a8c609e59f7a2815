package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
)

const token = "0123456789abcdef0123456789abcdef"

type fixture struct {
	srv      *api.Server
	journal  *agenttest.Journal
	platform *agenttest.Insurance
	host     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := clock.NewFake(agenttest.Epoch)
	j := agenttest.NewJournal(c)
	p := agenttest.NewInsurance()
	// A desk whose readers are never watched: it knows no reader.
	desk := agent.NewDesk(agent.DeskConfig{Clock: c})
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: c, Desk: desk})
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(token), Origins: []string{"https://his.hospital.local"}, Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, journal: j, platform: p, host: srv.Addr()}
}

const goodBody = `{"identity":{"cert_type":"02","cert_no":"11010519491231002X"},
 "operator":{"id":"W01","type":"1"},
 "bill":{"visit_no":"MZ1","dept_code":"A03","doctor_id":"D1",
   "items":[{"code":"X1","class":"01","quantity":2,"unit_price_fen":1250,"amount_fen":2500}]}}`

func (f *fixture) do(t *testing.T, method, path, body string, hdr map[string]string) (*http.Response, api.ErrorBody) {
	t.Helper()
	resp, data := f.doRaw(t, method, path, body, hdr)
	var eb api.ErrorBody
	_ = json.Unmarshal(data, &eb)
	return resp, eb
}

// doRaw sends a request as the HIS would (bearer token, JSON content type,
// hdr on top; an empty value deletes a header) and returns the answer and
// its body.
func (f *fixture) doRaw(t *testing.T, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, "http://"+f.host+path, strings.NewReader(body))
	req.Host = f.host
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	resp := rec.Result()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func TestBadRequestsGetAClearJSONErrorAndChangeNothing(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"malformed JSON", `{"identity": {`, nil, 400, "MALFORMED_JSON"},
		{"unknown field", strings.Replace(goodBody, `"operator"`, `"opperator"`, 1), nil, 400, "MALFORMED_JSON"},
		{"string where a number belongs", strings.Replace(goodBody, `"amount_fen":2500`, `"amount_fen":"25.00"`, 1), nil, 400, "MALFORMED_JSON"},
		{"fraction of a fen", strings.Replace(goodBody, `"amount_fen":2500`, `"amount_fen":2500.5`, 1), nil, 400, "MALFORMED_JSON"},
		{"trailing data", goodBody + `{}`, nil, 400, "MALFORMED_JSON"},
		{"oversized body", `{"bill":{"visit_no":"` + strings.Repeat("x", api.MaxBody) + `"}}`, nil, 413, "BODY_TOO_LARGE"},
		{"not JSON content type", goodBody, map[string]string{"Content-Type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"missing token", goodBody, map[string]string{"Authorization": ""}, 401, "UNAUTHORIZED"},
		{"wrong token", goodBody, map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 32)}, 401, "UNAUTHORIZED"},
		{"no idempotency key", goodBody, map[string]string{"Idempotency-Key": ""}, 400, "INVALID_REQUEST"},
		{"amount not quantity × price", strings.Replace(goodBody, `"amount_fen":2500`, `"amount_fen":2499`, 1), nil, 400, "INVALID_REQUEST"},
		{"foreign origin", goodBody, map[string]string{"Origin": "https://evil.example"}, 403, "FORBIDDEN_ORIGIN"},
		{"rebinding host", goodBody, map[string]string{"Host": "evil.example:8961"}, 403, "FORBIDDEN_HOST"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			hdr := map[string]string{"Idempotency-Key": "his-1"}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			if h, ok := hdr["Host"]; ok {
				f.host = h
			}
			resp, eb := f.do(t, "POST", "/v1/settlements", c.body, hdr)
			if resp.StatusCode != c.status || eb.Error.Code != c.code || eb.Error.Message == "" {
				t.Fatalf("status %d code %q message %q; want %d %q", resp.StatusCode, eb.Error.Code, eb.Error.Message, c.status, c.code)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if f.journal.Writes != 0 {
				t.Fatalf("a refused request wrote the journal")
			}
		})
	}
}

func TestSettlementIsCreatedOnceAndPersonalDataIsMasked(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do(t, "POST", "/v1/settlements", goodBody, map[string]string{"Idempotency-Key": "his-1"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first POST status %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "POST", "/v1/settlements", goodBody, map[string]string{"Idempotency-Key": "his-1"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second POST status %d; want 200 (the same settlement)", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	req := httptest.NewRequest("GET", "http://"+f.host+loc, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	body := rec.Body.String()
	if strings.Contains(body, "11010519491231002X") || !strings.Contains(body, "1101**********002X") {
		t.Fatalf("ID number not masked: %s", body)
	}
}

func TestEveryAnswerCarriesSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do(t, "GET", "/v1/health", "", map[string]string{"Authorization": ""})
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q; want %q", h, got, want)
		}
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy")
	}
}

func TestAllowedOriginGetsCORSAndPreflight(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do(t, "OPTIONS", "/v1/settlements", "", map[string]string{"Origin": "https://his.hospital.local", "Authorization": ""})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://his.hospital.local" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestNonLoopbackAddressIsRefusedUnlessAllowed(t *testing.T) {
	_, err := api.New(api.Config{Addr: "0.0.0.0:0", Token: []byte(token)})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("New on 0.0.0.0 = %v; want a loopback error", err)
	}
}

func TestOpenAPIDocumentListsEveryRoute(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest("GET", "http://"+f.host+"/v1/openapi.json", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, route := range api.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %s is not in the OpenAPI document", route)
		}
	}
}
