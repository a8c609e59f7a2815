package agent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// Regression: the answer of 2207 arrives just after the step's deadline;
// it is recorded all the same (the journal write must not share the
// deadline), and the bill is answered settled.
func TestAnAnswerArrivingAtTheStepDeadlineIsRecorded(t *testing.T) {
	j := journaltest.MustOpen(t)
	p := agenttest.NewInsurance()
	p.Before("Settle", func(ctx context.Context, _ string) error {
		<-ctx.Done() // a slow platform: it answers just as the deadline passes
		return nil
	})
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: p, Clock: j.Clock, StepTimeout: 100 * time.Millisecond})
	st, _, err := svc.Settle(context.Background(), request("k1", bill(3000)))
	if err != nil || st.State != agent.StateSettled {
		t.Fatalf("Settle = %v, %+v; want the late answer recorded", err, st)
	}
	if got, err := j.Get(context.Background(), st.ID); err != nil || got.State != agent.StateSettled {
		t.Fatalf("journal: %v %+v", err, got)
	}
}

type okVerifier struct{}

func (okVerifier) Verify(_ context.Context, text string) (agent.VerifiedCode, error) {
	return agent.VerifiedCode{Serial: "SER1", PersonToken: "tok-" + text}, nil
}

// Regression: one scanned code settles any number of bills (and any later
// patient's bill that asks for "latest" within the TTL).
func TestOneScanSettlesOneBill(t *testing.T) {
	_, _, _, c := offlineService(t)
	k := agent.NewKiosk(agent.KioskConfig{Verifier: okVerifier{}, Clock: c})
	j := agenttest.NewJournal(c)
	pol := agent.DefaultOfflinePolicy()
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: agenttest.NewInsurance(), Clock: c, Kiosk: k, Offline: pol})
	ctx := context.Background()
	if _, err := k.Handle(ctx, agent.ScannedCode{Text: "CODE-A", Source: "s"}); err != nil {
		t.Fatal(err)
	}
	for i, key := range []string{"bill-1", "bill-2-next-patient"} {
		r := request(key, bill(3000))
		r.Identity = agent.IdentityInput{Scan: "latest"}
		r.Mode = agent.ModeForceOffline
		st, _, err := svc.Settle(ctx, r)
		switch {
		case i == 0 && (err != nil || st.State != agent.StateDeferred):
			t.Fatalf("the first bill for the scan: %v %+v", err, st)
		case i == 1 && !errors.Is(err, agent.ErrScanUsed):
			t.Fatalf("a second bill on the same scan: %v %+v; want ErrScanUsed", err, st)
		}
	}
}

type slowIdent struct {
	n       int
	reading chan struct{}
	release chan struct{}
}

func (s *slowIdent) Identify(_ context.Context, _ agent.Card) (agent.CardIdentity, error) {
	s.n++
	if s.n == 1 {
		return agent.CardIdentity{CardNo: "A-PATIENT"}, nil
	}
	close(s.reading)
	<-s.release
	return agent.CardIdentity{CardNo: "B-PATIENT"}, nil
}

// Regression: while a swapped card is being read, the desk still answers
// with the previous patient's card.
func TestASwappedCardIsNeverAnsweredWithThePreviousPatient(t *testing.T) {
	readers := agenttest.NewReaders()
	id := &slowIdent{reading: make(chan struct{}), release: make(chan struct{})}
	d := agent.NewDesk(agent.DeskConfig{Readers: readers, Identifier: id})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	readers.Set(agent.ReaderState{Reader: "R", Present: true, Counter: 1})
	for {
		if c, err := d.Card(""); err == nil && c.CardNo == "A-PATIENT" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	readers.Set(agent.ReaderState{Reader: "R", Present: true, Counter: 3}) // A out, B in
	<-id.reading
	c, err := d.Card("")
	close(id.release)
	if err == nil && c.CardNo == "A-PATIENT" {
		t.Errorf("card B is in the reader, but the desk answers with card A")
	}
}

// Regression: a key reused for another bill is refused also when the
// identity comes from a reader or a scan, not answered with the first
// bill's settlement.
func TestAKeyReusedForAnotherBillIsRefusedForCardsAndScans(t *testing.T) {
	_, _, _, fc := offlineService(t)
	k := agent.NewKiosk(agent.KioskConfig{Verifier: okVerifier{}, Clock: fc})
	j := agenttest.NewJournal(fc)
	ins := agenttest.NewInsurance()
	ins.Model.AcceptToken("CODE-A", agenttest.DefaultIDNo)
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: ins, Clock: fc, Kiosk: k})
	ctx := context.Background()
	if _, err := k.Handle(ctx, agent.ScannedCode{Text: "CODE-A", Source: "s"}); err != nil {
		t.Fatal(err)
	}
	r := request("visit-MZ001", bill(3000))
	r.Identity = agent.IdentityInput{Scan: "latest"}
	if st, _, err := svc.Settle(ctx, r); err != nil || st.State != agent.StateSettled {
		t.Fatalf("first bill: %v %+v", err, st)
	}
	r2 := request("visit-MZ001", bill(9900)) // another bill, same key
	r2.Identity = agent.IdentityInput{Scan: "latest"}
	if st, _, err := svc.Settle(ctx, r2); !errors.Is(err, agent.ErrIdempotencyConflict) {
		t.Fatalf("a second bill under a used key: %v %+v; want an idempotency conflict", err, st)
	}
}
