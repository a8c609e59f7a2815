package stacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

func TestAStepDeadlineDuringTheSettlementRequestLeavesItInDoubt(t *testing.T) {
	var booked atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env protocol.Request
		_ = json.NewDecoder(r.Body).Decode(&env)
		if env.Infno == "9001" {
			out, _ := json.Marshal(protocol.SignInOutput{Signinoutb: protocol.SignInResult{SignNo: "S1"}})
			_ = json.NewEncoder(w).Encode(protocol.Response{Output: out})
			return
		}
		if env.Infno == "2207" {
			booked.Add(1) // the platform books it ... and answers late
			<-release
		}
		out, err := agenttest.DefaultAnswer(agent.PlatformRequest{Infno: env.Infno, Msgid: env.Msgid, Input: env.Input})
		if err != nil {
			_ = json.NewEncoder(w).Encode(protocol.Response{Infcode: -1, ErrCode: "X"})
			return
		}
		_ = json.NewEncoder(w).Encode(protocol.Response{Output: out})
	}))
	defer srv.Close()
	defer close(release)
	j := journaltest.MustOpen(t)
	pc, err := client.New(client.Config{URL: srv.URL, InstitutionCode: journaltest.Institution, Region: "441900", DevNo: "T1",
		Profile: transport.None{}, AttemptTimeout: 5 * time.Second, NextMsgid: j.AllocateMsgid})
	if err != nil {
		t.Fatal(err)
	}
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Platform: pc, StepTimeout: 500 * time.Millisecond,
		Offline: agent.DefaultOfflinePolicy()})
	req := agent.SettleRequest{IdempotencyKey: "k1",
		Identity: agent.IdentityInput{CertType: protocol.CertSSCard, CertNo: "D19880001", CardSN: "441900D1560000050A1B2C3D00000001", IDNo: "11010519491231002X"},
		Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk},
		Bill:     agent.Bill{VisitNo: "MZ1", DeptCode: "A", DoctorID: "D", Items: []agent.FeeItem{{Code: "X", Class: "01", Quantity: 1, UnitPrice: money.Fen(3000), Amount: 3000}}},
	}
	st, _, err := svc.Settle(context.Background(), req)
	if err != nil || st.State != agent.StateInDoubt {
		t.Fatalf("Settle = %v, %s; want in doubt: the request reached the platform", err, st.State)
	}
	got, _ := j.Get(context.Background(), st.ID)
	if booked.Load() > 0 && (got.State == agent.StateDeferred || got.State == agent.StateFailed) {
		t.Errorf("2207 reached the platform but the bill is %s (nothing booked / voidable)", got.State)
	}
}

func TestADamagedRecordIsNotAnsweredNothingAccepted(t *testing.T) {
	j := journaltest.MustOpen(t)
	p := &agenttest.Platform{}
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Platform: p, Clock: j.Clock})
	req := agent.SettleRequest{IdempotencyKey: "k1",
		Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: "11010519491231002X"},
		Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk},
		Bill:     agent.Bill{VisitNo: "MZ1", DeptCode: "A", DoctorID: "D", Items: []agent.FeeItem{{Code: "X", Class: "01", Quantity: 1, UnitPrice: money.Fen(3000), Amount: 3000}}},
	}
	st, _, err := svc.Settle(context.Background(), req)
	if err != nil || st.State != agent.StateSettled {
		t.Fatal(st, err)
	}
	j.MustClose()
	db, err := bolt.Open(j.Path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("settlements"))
		v := append([]byte(nil), b.Get([]byte(st.ID))...)
		v = []byte(strings.Replace(string(v), `\"settled\"`, `\"settleX\"`, 1))
		v = []byte(strings.Replace(string(v), `"state":"settled"`, `"state":"settleX"`, 1))
		return b.Put([]byte(st.ID), v)
	})
	db.Close()
	j.MustReopen()
	svc = agent.NewService(agent.ServiceConfig{Journal: j, Platform: p, Clock: j.Clock})
	_, _, err = svc.Settle(context.Background(), req)
	if errors.Is(err, agent.ErrNotAccepted) {
		t.Errorf("a key whose settled record is damaged is answered 'nothing was accepted'")
	}
}
