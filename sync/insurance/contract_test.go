package insurance_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/insurancetest"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/evoucher"
	"github.com/seed-a859fada/medterm/sync/insurance"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/transport"
)

const inst = "H44190000001"

var token = []byte("0123456789abcdef-dongguan")

// stack is the sandbox over loopback and the adapter in front of it,
// through the real client and the tif profile.
type stack struct {
	clock   *clock.Fake
	p       *sandbox.Platform
	srv     *httptest.Server
	client  *client.Client
	adapter *insurance.Adapter
	msgid   func() string
	data    *personas.Dataset
}

func newStack(t *testing.T, more ...func(o *sandbox.Options)) *stack {
	t.Helper()
	s := &stack{clock: clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, protocol.CST))}
	var err error
	if s.data, err = personas.Default(); err != nil {
		t.Fatal(err)
	}
	opts := sandbox.Options{Clock: s.clock, Personas: s.data, Secrets: map[string][]byte{inst: token}}
	for _, f := range more {
		f(&opts)
	}
	if s.p, err = sandbox.Open(filepath.Join(t.TempDir(), "sandbox.db"), opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.p.Close() })
	s.srv = httptest.NewServer(s.p.Handler())
	t.Cleanup(s.srv.Close)
	var mu sync.Mutex
	var mc protocol.MsgidClock
	s.msgid = func() string {
		mu.Lock()
		defer mu.Unlock()
		var id string
		id, mc = mc.Next(inst, 1, s.clock.Now())
		return id
	}
	tif, err := transport.NewTif(inst, string(token), s.clock)
	if err != nil {
		t.Fatal(err)
	}
	s.client = s.newClient(t, tif)
	if s.adapter, err = insurance.New(s.client, insurance.Options{Institution: inst}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *stack) newClient(t *testing.T, profile transport.Profile) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		URL: s.srv.URL + sandbox.CallPath, InstitutionCode: inst, InstitutionName: "东莞测试医院", Region: "441900", DevNo: "K01",
		Profile: profile, RecerSysCode: "MBS_LOCAL", Clock: s.clock, AttemptTimeout: 5 * time.Second,
		NextMsgid: func(context.Context) (string, error) { return s.msgid(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *stack) person(t *testing.T, key string) *personas.Person {
	t.Helper()
	p, ok := s.data.ByKey(key)
	if !ok {
		t.Fatalf("no persona %s", key)
	}
	return p
}

func (s *stack) harness(t *testing.T) *insurancetest.Harness {
	ev, err := evoucher.New(inst, evoucher.HTTP{URL: s.srv.URL + sandbox.ECQueryPath})
	if err != nil {
		t.Fatal(err)
	}
	p := s.person(t, "deductible-met") // the year's deductible met: the fund pays a share
	return &insurancetest.Harness{
		Insurance: s.adapter, Msgid: s.msgid, Now: s.clock.Now,
		Operator: agent.Operator{ID: "K01", Name: "自助机01", Type: protocol.OpterKiosk},
		Patient:  agent.IdentifyRequest{CertType: agent.CertIDNo, CertNo: p.Certno, IDNo: p.Certno},
		Unknown:  agent.IdentifyRequest{CertType: agent.CertIDNo, CertNo: "110105194912310021"},
		ClassA:   sandbox.CatalogueCode(protocol.ClassA), ClassB: sandbox.CatalogueCode(protocol.ClassB), ClassC: sandbox.CatalogueCode(protocol.ClassC),
		EVoucher: ev,
		Code: func(t *testing.T) string {
			c, err := s.p.Code(t.Context(), "opaque-only")
			if err != nil {
				t.Fatal(err)
			}
			return c.Text
		},
	}
}

func TestTheAdapterOverTheSandboxMeetsTheContract(t *testing.T) {
	insurancetest.Run(t, func(t *testing.T) *insurancetest.Harness { return newStack(t).harness(t) })
}
