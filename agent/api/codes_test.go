package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
)

// Every error code the document lists is answered by some request here,
// through the HTTP API, with the status the document gives it and a
// message for people in both languages.

// scriptedVerifier verifies codes by their text: "OK:…" is a verified
// code, "REJECT:REASON" is refused for REASON, anything else is opaque.
type scriptedVerifier struct{}

func (scriptedVerifier) Verify(_ context.Context, text string) (agent.VerifiedCode, error) {
	switch {
	case strings.HasPrefix(text, "OK:"):
		return agent.VerifiedCode{Serial: text, PersonToken: "tok-" + text, Region: "441900", CodeTime: time.Now(), Counter: 1}, nil
	case strings.HasPrefix(text, "REJECT:"):
		reason := strings.TrimPrefix(text, "REJECT:")
		return agent.VerifiedCode{}, &agent.CodeRejection{Reason: reason, Detail: "refused: " + reason, ZH: "请在手机上刷新医保码", EN: "please refresh the code on your phone"}
	}
	return agent.VerifiedCode{}, agent.ErrOpaqueCode
}

type codeRig struct {
	t       *testing.T
	srv     *api.Server
	journal *agenttest.Journal
	ins     *agenttest.Insurance
	kiosk   *agent.Kiosk
	cfg     api.Config
	answers map[string]int // code → status seen
}

func newCodeRig(t *testing.T, withDevices bool) *codeRig {
	t.Helper()
	c := clock.NewFake(agenttest.Epoch)
	r := &codeRig{t: t, journal: agenttest.NewJournal(c), ins: agenttest.NewInsurance(), answers: map[string]int{}}
	pay := &agenttest.PayChannel{Clock: c}
	pay.AddPerson(payPatientID, "张三")
	cfg := agent.ServiceConfig{Journal: r.journal, Insurance: r.ins, Payment: pay, Clock: c}
	acfg := api.Config{Addr: "127.0.0.1:0", Token: []byte(token), Origins: []string{"https://his.hospital.local"}}
	if withDevices {
		bus := events.NewBus(nil)
		readers := agenttest.NewReaders()
		desk := agent.NewDesk(agent.DeskConfig{Readers: readers, Events: bus, Clock: c, Identifier: agenttest.Identities{
			"expired": {CardNo: "D1", Expired: true, ExpiryDate: "2020-05-31"},
			"plain":   {CardNo: "D2", IDNo: payPatientID, Name: "张三", ExpiryDate: "2031-05-31"}}})
		sub := bus.Subscribe(16)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- desk.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; sub.Close() })
		readers.Set(agent.ReaderState{Reader: "empty"}, agent.ReaderState{Reader: "expired", Present: true, Counter: 1},
			agent.ReaderState{Reader: "broken", Present: true, Counter: 1}, agent.ReaderState{Reader: "plain", Present: true, Counter: 1})
		for range 3 { // the three cards read (expired, unreadable, one without a financial account)
			select {
			case <-sub.C:
			case <-time.After(5 * time.Second):
				t.Fatal("the desk never read the cards")
			}
		}
		r.kiosk = agent.NewKiosk(agent.KioskConfig{Verifier: scriptedVerifier{}, Events: bus, Clock: c})
		cfg.Desk, cfg.Kiosk, cfg.Events = desk, r.kiosk, bus
		acfg.Desk, acfg.Kiosk, acfg.Events = desk, r.kiosk, bus
	}
	acfg.Service = agent.NewService(cfg)
	r.cfg = acfg
	srv, err := api.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	return r
}

// mustServer is r's API again, printing receipts with print.
func mustServer(t *testing.T, r *codeRig, print func(context.Context, string) error) *api.Server {
	t.Helper()
	cfg := r.cfg
	cfg.Print = print
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// do sends a request and records the error code of the answer.
func (r *codeRig) do(method, path, contentType string, body []byte, hdr map[string]string) (int, api.ErrorBody) {
	r.t.Helper()
	req := httptest.NewRequest(method, "http://"+r.srv.Addr()+path, bytes.NewReader(body))
	req.Host = r.srv.Addr()
	req.RemoteAddr = loopbackPeer // a peer address, never dialled
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, req)
	data, _ := io.ReadAll(rec.Result().Body)
	var eb api.ErrorBody
	if rec.Code >= 400 {
		if err := json.Unmarshal(data, &eb); err != nil || eb.Error.Code == "" || eb.Error.MessageZH == "" || eb.Error.MessageEN == "" {
			r.t.Errorf("%s %s: %d with a body that is no error for people: %s", method, path, rec.Code, data)
		}
		r.answers[eb.Error.Code] = rec.Code
	}
	return rec.Code, eb
}

func (r *codeRig) settle(key, body string) (int, api.ErrorBody) {
	return r.do("POST", "/v1/settlements", "application/json", []byte(body), map[string]string{"Idempotency-Key": key})
}

func (r *codeRig) scan(text string) string {
	r.t.Helper()
	sc, err := r.kiosk.Handle(context.Background(), agent.ScannedCode{Text: text, At: time.Now(), Source: "test"})
	if err != nil {
		r.t.Fatal(err)
	}
	return sc.ID
}

func withIdentity(identity string) string {
	return strings.Replace(goodBody, `"cert_type":"02","cert_no":"11010519491231002X"`, identity, 1)
}

func blankPNG(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEveryErrorCodeIsAnsweredWithItsStatusAndMessages(t *testing.T) {
	r := newCodeRig(t, true)
	js := "application/json"

	// The door.
	r.settle("k", goodBody)
	r.do("POST", "/v1/settlements", js, []byte(goodBody), map[string]string{"Idempotency-Key": "k1", "Host": "evil.example:8961"})
	r.do("POST", "/v1/settlements", js, []byte(goodBody), map[string]string{"Idempotency-Key": "k1", "Origin": "https://evil.example"})
	r.do("POST", "/v1/settlements", js, []byte(goodBody), map[string]string{"Idempotency-Key": "k1", "Authorization": ""})
	r.do("DELETE", "/v1/settlements", "", nil, nil)
	r.do("GET", "/v1/nowhere", "", nil, nil)

	// Reading the body.
	r.do("POST", "/v1/settlements", js, []byte(goodBody), nil) // no Idempotency-Key
	r.settle("k2", `{"identity":`)
	r.settle("k3", `{"bill":{},"bill":{}}`)
	r.settle("k4", "{\"operator\":{\"id\":\"\xff\"}}")
	r.settle("k5", `{"operator":{"id":"\u0000"}}`)
	r.do("POST", "/v1/settlements", "text/plain", []byte(goodBody), map[string]string{"Idempotency-Key": "k6"})
	r.do("POST", "/v1/settlements", "application/json; charset=latin1", []byte(goodBody), map[string]string{"Idempotency-Key": "k7"})
	r.settle("k8", `{"x":"`+strings.Repeat("a", api.MaxBody)+`"}`)

	// Settlements and their states.
	r.settle("k", strings.Replace(goodBody, `"MZ1"`, `"MZ2"`, 1)) // another bill under the key
	r.do("GET", "/v1/settlements/NOPE", "", nil, nil)
	r.do("POST", "/v1/settlements/T1-00000001/void", js, []byte(`{"operator":{"id":"W01","type":"1"},"reason":"x"}`), nil) // settled: not voidable
	// A record whose split no longer balances (damaged after it was
	// stored): its receipt is refused as the terminal's own failure.
	if _, err := r.journal.Update(context.Background(), "T1-00000001", func(s *agent.Settlement, _ agent.MsgidAllocator) error {
		s.Split.Cash++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.do("GET", "/v1/settlements/T1-00000001/receipt", "", nil, nil)
	r.ins.Before("ReconcileTotals", func(context.Context, string) error { return errors.New("3201 refused") })
	r.do("POST", "/v1/reconcile", js, []byte(`{"date":"2026-11-23"}`), nil)

	// The card at the desk.
	r.settle("c1", withIdentity(`"card_reader":"empty"`))
	r.settle("c2", withIdentity(`"card_reader":"expired"`))
	r.settle("c3", withIdentity(`"card_reader":"broken"`))
	r.settle("c4", withIdentity(`"card_reader":"nope"`))

	// The code at the kiosk.
	r.settle("q1", withIdentity(`"scan":"scan-0"`))
	for _, code := range agent.RefusalCodes() {
		if reason, ok := strings.CutPrefix(code, "CODE_"); ok && code != agent.RefuseScanUsed && code != agent.RefuseCodeUnresolved {
			if code == "CODE_EXPIRED" || code == "CODE_FROM_FUTURE" {
				reason = code // the verifier's reasons that already start so
			}
			r.settle("q-"+code, withIdentity(`"scan":"`+r.scan("REJECT:"+reason)+`"`))
		}
	}
	used := r.scan("OK:1")
	r.settle("q2", withIdentity(`"scan":"`+used+`"`))
	r.settle("q3", withIdentity(`"scan":"`+used+`"`))
	r.ins.Before("Identify", func(context.Context, string) error { return agent.ErrUnreachable })
	r.do("GET", "/v1/bills?scan="+r.scan("OK:2"), "", nil, nil)
	r.ins.Before("Identify", nil)
	r.do("POST", "/v1/scans/image", "image/png", blankPNG(t), nil)
	r.do("POST", "/v1/scans/image", "image/png", []byte("not an image"), nil)

	// Held bills.
	r.do("POST", "/v1/bills", js, []byte(holdBody), map[string]string{"Idempotency-Key": "rx"})
	var l api.HeldList
	if _, data := (&fixture{srv: r.srv, host: r.srv.Addr()}).doRaw(t, "GET", "/v1/bills", "", nil); json.Unmarshal(data, &l) != nil || len(l.Bills) != 1 {
		t.Fatalf("held bills: %s", data)
	}
	r.do("POST", "/v1/bills/"+l.Bills[0].ID+"/settle", js, []byte(`{"identity":{"cert_type":"02","cert_no":"110105198001010016"},"operator":{"id":"W01","type":"1"}}`), nil)

	// The journal failing: nothing stored, then a bill stored whose
	// outcome is not.
	r.journal.FailWrites = errors.New("no space left on device")
	r.settle("j1", strings.Replace(goodBody, "MZ1", "MZ-j1", 1))
	r.journal.FailWrites = nil
	r.ins.Before("Settle", func(context.Context, string) error {
		r.journal.FailWrites = errors.New("no space left on device")
		return nil
	})
	r.settle("j2", strings.Replace(goodBody, "MZ1", "MZ-j2", 1))
	r.journal.FailWrites = nil
	r.ins.Before("Settle", nil)

	// Signing up.
	who := `"identity":{"cert_type":"02","cert_no":"` + payPatientID + `"},"operator":{"id":"W01","type":"1"}`
	r.do("POST", "/v1/agreements/find", js, []byte("{"+who+"}"), nil)
	r.do("POST", "/v1/agreements", js, []byte(`{"identity":{"card_reader":"plain"},"source":"card_account","operator":{"id":"W01","type":"1"}}`), nil)
	r.do("POST", "/v1/agreements", js, []byte("{"+who+`,"source":"bank_card","card_no":"6222021234567890129"}`), nil)
	r.do("POST", "/v1/agreements/limits", js, []byte("{"+who+`,"per_payment_fen":30000}`), nil)

	// Receipts on a terminal without a printer, and on one whose printer
	// fails.
	r.do("POST", "/v1/settlements/NOPE/print", "", nil, nil)
	r.settle("p1", strings.Replace(goodBody, "MZ1", "MZ-p1", 1))
	printer := newCodeRig(t, false)
	printer.srv = mustServer(t, printer, func(context.Context, string) error { return errors.New("lp: no paper") })
	printer.settle("p2", goodBody)
	printer.do("POST", "/v1/settlements/T1-00000001/print", "", nil, nil)
	for code, status := range printer.answers {
		r.answers[code] = status
	}

	// A terminal with neither reader nor scanner.
	bare := newCodeRig(t, false)
	bare.settle("b1", withIdentity(`"card_reader":"desk"`))
	bare.settle("b2", withIdentity(`"scan":"latest"`))
	for code, status := range bare.answers {
		r.answers[code] = status
	}

	documented := api.DocumentedCodes(t)
	for _, code := range documented {
		if _, ok := r.answers[code]; !ok {
			t.Errorf("no request here was answered %s", code)
		}
	}
	for code := range r.answers {
		if !slices.Contains(documented, code) {
			t.Errorf("answered %s, which the document does not list", code)
		}
	}
	if t.Failed() {
		t.Logf("answered: %v", r.answers)
	}
}
