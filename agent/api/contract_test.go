package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
)

// The contract: every route's requests and answers, success and refusal,
// checked against the OpenAPI document the agent serves
// (github.com/getkin/kin-openapi), so that a HIS written from the document
// gets what it describes.

func TestEveryRouteAnswersAsTheOpenAPIDocumentSays(t *testing.T) {
	ctx := context.Background()
	// The page, its files and the event stream are text: read as text.
	for _, ct := range []string{"text/event-stream", "text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiDocument(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	c := clock.NewFake(agenttest.Epoch)
	j := agenttest.NewJournal(c)
	ins := agenttest.NewInsurance()
	pay := &agenttest.PayChannel{Clock: c}
	ins.Model.AddPerson(payPatientID, "张三", "", "")
	ins.Model.SetBalance(payPatientID, 0)
	pay.AddPerson(payPatientID, "张三") // no agreement: the part is left pending
	bus := events.NewBus(nil)
	desk := agent.NewDesk(agent.DeskConfig{Clock: c})
	kiosk := agent.NewKiosk(agent.KioskConfig{Events: bus})
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: ins, Payment: pay, Clock: c, Desk: desk, Kiosk: kiosk, Events: bus,
		Offline: agent.DefaultOfflinePolicy()})
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(token), Service: svc, Desk: desk, Kiosk: kiosk, Events: bus,
		Origins: []string{"https://his.hospital.local"},
		Status:  func(context.Context) any { return api.Status{Version: "test", Online: true, States: map[string]int{}} }})
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	check := func(name, method, path, body string, hdr map[string]string, wantStatus int) []byte {
		t.Helper()
		req := httptest.NewRequest(method, "http://"+srv.Addr()+path, strings.NewReader(body))
		req.Host = srv.Addr()
		req.RemoteAddr = loopbackPeer // a peer address, never dialled
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range hdr {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		if method == http.MethodGet && strings.HasPrefix(path, "/v1/events") {
			// The stream lasts until the client goes: go after its start.
			sctx, cancel := context.WithTimeout(req.Context(), 200*time.Millisecond)
			defer cancel()
			req = req.WithContext(sctx)
		}
		srv.Handler().ServeHTTP(rec, req)
		resp := rec.Result()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Errorf("%s: %s %s answered %d, want %d: %s", name, method, path, resp.StatusCode, wantStatus, got)
		}

		// The same request, as the document's server names it (matched,
		// never dialled).
		vreq := httptest.NewRequest(method, doc.Servers[0].URL+path, strings.NewReader(body))
		vreq.Header = req.Header.Clone()
		route, params, err := router.FindRoute(vreq)
		if err != nil {
			t.Errorf("%s: %s %s is not in the document: %v", name, method, path, err)
			return got
		}
		seen[route.Method+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if wantStatus < 400 {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("%s: the request does not match the document: %v", name, err)
			}
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(got)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s: the answer (%d) does not match the document: %v\n%s", name, resp.StatusCode, err, got)
		}
		return got
	}
	idOf := func(data []byte) string {
		var v struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(data, &v)
		return v.ID
	}

	// Health, status, the document, the liveness check.
	check("health", "GET", "/v1/health", "", nil, 200)
	check("health without a token", "GET", "/v1/health", "", map[string]string{"Authorization": ""}, 401)
	check("status", "GET", "/v1/status", "", nil, 200)
	check("document", "GET", "/v1/openapi.json", "", nil, 200)
	check("liveness", "GET", "/v1/livez", "", map[string]string{"Authorization": ""}, 200)
	check("metrics", "GET", "/metrics", "", nil, 404)

	// Settlements: one whose part is left pending, then collected.
	body := strings.Replace(goodBody, "11010519491231002X", payPatientID, 1)
	st := check("settle", "POST", "/v1/settlements", body, map[string]string{"Idempotency-Key": "c-1"}, 201)
	id := idOf(st)
	check("settle again", "POST", "/v1/settlements", body, map[string]string{"Idempotency-Key": "c-1"}, 200)
	check("settle, broken JSON", "POST", "/v1/settlements", `{"identity":`, map[string]string{"Idempotency-Key": "c-2"}, 400)
	check("settle, another bill under the key", "POST", "/v1/settlements", goodBody, map[string]string{"Idempotency-Key": "c-1"}, 409)
	check("settle, too large", "POST", "/v1/settlements", `{"x":"`+strings.Repeat("a", api.MaxBody)+`"}`, map[string]string{"Idempotency-Key": "c-3"}, 413)
	check("settle, not JSON", "POST", "/v1/settlements", body, map[string]string{"Idempotency-Key": "c-4", "Content-Type": "text/plain"}, 415)
	check("settle, no card reader", "POST", "/v1/settlements", strings.Replace(goodBody, `"cert_type":"02","cert_no":"11010519491231002X"`, `"card_reader":"desk"`, 1),
		map[string]string{"Idempotency-Key": "c-5"}, 400)
	check("list", "GET", "/v1/settlements?limit=10", "", nil, 200)
	check("get", "GET", "/v1/settlements/"+id, "", nil, 200)
	check("get, unknown", "GET", "/v1/settlements/NOPE", "", nil, 404)
	check("receipt", "GET", "/v1/settlements/"+id+"/receipt", "", nil, 200)
	check("print, no printer", "POST", "/v1/settlements/"+id+"/print", "", nil, 404)
	check("confirm a pending part", "POST", "/v1/settlements/"+id+"/confirm", `{"operator":{"id":"K1","type":"2"}}`, nil, 200)
	check("collect", "POST", "/v1/settlements/"+id+"/collect", `{"operator":{"id":"W01","type":"1"},"channel":"wechat","reference":"4200001234"}`, nil, 200)
	check("collect, twice", "POST", "/v1/settlements/"+id+"/collect", `{"operator":{"id":"W01","type":"1"},"channel":"cash"}`, nil, 409)
	check("void, not deferred", "POST", "/v1/settlements/"+id+"/void", `{"operator":{"id":"W01","type":"1"},"reason":"paid cash"}`, nil, 409)
	check("refund", "POST", "/v1/settlements/"+id+"/refund", `{"operator":{"id":"W01","type":"1"},"reason":"wrong item"}`, nil, 200)
	check("confirm, refunded", "POST", "/v1/settlements/"+id+"/confirm", `{"operator":{"id":"K1","type":"2"}}`, nil, 409)
	check("refund, unknown", "POST", "/v1/settlements/NOPE/refund", `{"operator":{"id":"W01","type":"1"},"reason":"x"}`, nil, 404)

	// Bills left for later.
	held := check("hold", "POST", "/v1/bills", holdBody, map[string]string{"Idempotency-Key": "rx-1"}, 201)
	hid := idOf(held)
	check("hold again", "POST", "/v1/bills", holdBody, map[string]string{"Idempotency-Key": "rx-1"}, 200)
	check("bills", "GET", "/v1/bills?state=all", "", nil, 200)
	check("bills, bad filter", "GET", "/v1/bills?state=bogus", "", nil, 400)
	check("bills by scan, none", "GET", "/v1/bills?scan=latest", "", nil, 400)
	check("find", "POST", "/v1/bills/find", `{"identity":{"cert_type":"02","cert_no":"11010519491231002X"}}`, nil, 200)
	check("bill", "GET", "/v1/bills/"+hid, "", nil, 200)
	check("bill, unknown", "GET", "/v1/bills/H0", "", nil, 404)
	check("settle held, another patient", "POST", "/v1/bills/"+hid+"/settle",
		`{"identity":{"cert_type":"02","cert_no":"`+payPatientID+`"},"operator":{"id":"W01","type":"1"}}`, nil, 409)
	check("settle held", "POST", "/v1/bills/"+hid+"/settle",
		`{"identity":{"cert_type":"02","cert_no":"11010519491231002X"},"operator":{"id":"W01","type":"1"}}`, nil, 200)
	check("cancel, settled", "POST", "/v1/bills/"+hid+"/cancel", `{"operator":{"id":"D01","type":"1"}}`, nil, 409)
	other := check("hold another", "POST", "/v1/bills", holdBody, map[string]string{"Idempotency-Key": "rx-2"}, 201)
	check("cancel", "POST", "/v1/bills/"+idOf(other)+"/cancel", `{"operator":{"id":"D01","type":"1"}}`, nil, 200)

	// Signing up for password-free payment.
	who := `{"identity":{"cert_type":"02","cert_no":"` + payPatientID + `"},"operator":{"id":"W01","type":"1"}}`
	check("agreement, none", "POST", "/v1/agreements/find", who, nil, 404)
	check("sign a bank card", "POST", "/v1/agreements", `{"identity":{"cert_type":"02","cert_no":"`+payPatientID+`"},"source":"bank_card","card_no":"6222021234567890128","operator":{"id":"W01","type":"1"}}`, nil, 201)
	check("agreement", "POST", "/v1/agreements/find", who, nil, 200)
	check("lower the limits", "POST", "/v1/agreements/limits", `{"identity":{"cert_type":"02","cert_no":"`+payPatientID+`"},"per_payment_fen":5000,"daily_fen":20000,"operator":{"id":"W01","type":"1"}}`, nil, 200)
	check("limits above the rollout's", "POST", "/v1/agreements/limits", `{"identity":{"cert_type":"02","cert_no":"`+payPatientID+`"},"per_payment_fen":50000,"operator":{"id":"W01","type":"1"}}`, nil, 400)
	check("cancel the agreement", "POST", "/v1/agreements/cancel", who, nil, 200)

	// Cards, scans, events.
	check("cards", "GET", "/v1/cards", "", nil, 200)
	check("card, no reader", "GET", "/v1/cards/desk", "", nil, 400)
	check("scan, unknown", "GET", "/v1/scans/scan-0", "", nil, 404)
	check("scan image, not an image", "POST", "/v1/scans/image", "nothing", map[string]string{"Content-Type": "image/png"}, 422)
	ticket := check("ticket", "POST", "/v1/events/ticket", "", nil, 201)
	var tk api.EventTicket
	_ = json.Unmarshal(ticket, &tk)
	check("events with a ticket", "GET", "/v1/events?ticket="+url.QueryEscape(tk.Ticket), "", map[string]string{"Authorization": ""}, 200)
	check("events", "GET", "/v1/events", "", nil, 200)
	check("events, bad id", "GET", "/v1/events?last_event_id=x", "", nil, 400)

	// The kiosk page and its session.
	check("kiosk page", "GET", "/kiosk", "", map[string]string{"Authorization": ""}, 200)
	check("kiosk script", "GET", "/kiosk/kiosk.js", "", map[string]string{"Authorization": ""}, 200)
	check("kiosk style", "GET", "/kiosk/kiosk.css", "", map[string]string{"Authorization": ""}, 200)
	check("kiosk, no such file", "GET", "/kiosk/nope.js", "", map[string]string{"Authorization": ""}, 404)
	check("kiosk session", "POST", "/v1/kiosk/session", "", map[string]string{"Authorization": ""}, 201)

	// The backlog and reconciliation.
	check("sync", "POST", "/v1/sync", "", nil, 202)
	check("reconcile, bad date", "POST", "/v1/reconcile", `{"date":"yesterday"}`, nil, 400)
	check("reconcile", "POST", "/v1/reconcile", `{"date":"2026-11-23"}`, nil, 200)
	check("last reconciliation", "GET", "/v1/reconcile/last", "", nil, 200)

	for _, r := range api.Routes() {
		if !seen[r] {
			t.Errorf("route %s is not checked against the document", r)
		}
	}
}

// payPatientID is a patient of 41 with no agreement: the part is pending.
const payPatientID = "110105198506150014"

func openapiDocument(t *testing.T) []byte {
	t.Helper()
	f := newFixture(t)
	_, data := f.doRaw(t, "GET", "/v1/openapi.json", "", nil)
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
