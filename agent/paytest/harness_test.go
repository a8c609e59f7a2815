package paytest_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/paytest"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/unionpay"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// The fake of agent/agenttest, seeded with the sandbox channel's
// agreements file, so that both know the same patients.
func TestFakeChannel(t *testing.T) {
	paytest.Run(t, func(t *testing.T) paytest.Harness {
		ds, data := seedData(t)
		clk := clock.NewFake(paytest.Start)
		fake := &agenttest.PayChannel{Clock: clk, PerPayment: data.Rollout.PerPayment, Daily: data.Rollout.Daily,
			CreditMinAge: data.Rollout.CreditMinAge, CreditMaxAge: data.Rollout.CreditMaxAge,
			SignedBalance: data.Signed.Balance, SignedLine: data.Signed.CreditLine}
		for _, p := range ds.People {
			fake.AddPerson(p.Certno, p.Name)
		}
		for i, no := range data.IDNos() {
			e := data.Patients[no]
			per, _ := ds.ByCertNo(no)
			pp := agenttest.PayPatient{IDNo: no, Name: per.Name, AccountFirst: e.AccountFirst, PerPayment: e.PerPayment, Daily: e.Daily}
			for j, s := range e.Sources {
				pp.Sources = append(pp.Sources, agenttest.PayFunds{
					PaySource: agent.PaySource{Kind: s.Kind, Token: fmt.Sprintf("FK%04d%02d", i, j), Masked: s.Masked, Bank: s.Bank},
					Balance:   s.Balance, Limit: s.Limit})
			}
			for _, l := range e.Family {
				pp.Family = append(pp.Family, agenttest.PayFamily{Member: l.Member, Relation: l.Relation, ConfirmFirst: l.ConfirmFirst})
			}
			fake.AddPatient(pp)
		}
		return paytest.Harness{
			Channel: fake, Clock: clk, Patient: patients(ds),
			AnswerUnknownNext: fake.AnswerUnknownNext, LoseNext: fake.LoseNext,
			Balance: func(token string) money.Fen { b, _ := fake.Balance(token); return b },
			Booked:  fake.Booked,
		}
	})
}

// The unionpay adapter against the sandbox channel over loopback.
func TestUnionPayAdapterAgainstTheSandboxChannel(t *testing.T) {
	paytest.Run(t, func(t *testing.T) paytest.Harness {
		ds, _ := seedData(t)
		merchant, channel := genKey(t), genKey(t)
		const merID = "898440148160001"
		clk := clock.NewFake(paytest.Start)
		ch, err := paychannel.Open(filepath.Join(t.TempDir(), "paychannel.db"), paychannel.Options{
			Key: channel, Merchants: map[string]*ecdsa.PublicKey{merID: &merchant.PublicKey}, Clock: clk, Personas: ds,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ch.Close() })
		srv := httptest.NewServer(ch.Handler()) // 127.0.0.1:0
		t.Cleanup(srv.Close)
		client, err := unionpay.New(unionpay.Config{
			URL: srv.URL + paychannel.BasePath, MerchantID: merID, TokenRequestor: "62000000001", Enabled: true,
			KeyFile: writePEM(t, "payment.key", privPEM(t, merchant)), ChannelKeyFile: writePEM(t, "channel.pub", pubPEM(t, &channel.PublicKey)),
		}, unionpay.Options{Clock: autoClock(t)})
		if err != nil {
			t.Fatal(err)
		}
		ledger := func() paychannel.Ledger {
			l, err := ch.Ledger()
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		return paytest.Harness{
			Channel: client, Clock: clk, Patient: patients(ds),
			AnswerUnknownNext: func(n int) { ch.AnswerUnknownNext(n, acp.CodeAccepted) },
			LoseNext:          ch.LoseNext,
			Balance:           func(token string) money.Fen { b, _ := ledger().Balance(token); return b },
			Booked: func(orderID string) int {
				n := 0
				for _, o := range ledger().Orders {
					if o.OrderID == orderID && o.Booked() {
						n++
					}
				}
				return n
			},
		}
	})
}

func seedData(t *testing.T) (*personas.Dataset, *paychannel.Data) {
	t.Helper()
	ds, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	data, err := paychannel.DefaultData()
	if err != nil {
		t.Fatal(err)
	}
	return ds, data
}

func patients(ds *personas.Dataset) func(key string) agent.AgreementQuery {
	return func(key string) agent.AgreementQuery {
		p, ok := ds.ByKey(key)
		if !ok {
			panic("no persona " + key)
		}
		return agent.AgreementQuery{IDNo: p.Certno, Name: p.Name, Region: p.InsuplcAdmdvs}
	}
}

func genKey(t *testing.T) *sm2.PrivateKey {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func privPEM(t *testing.T, k *sm2.PrivateKey) []byte {
	b, err := acp.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pubPEM(t *testing.T, k *ecdsa.PublicKey) []byte {
	b, err := acp.MarshalPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writePEM(t *testing.T, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// autoClock fires the adapter's resend pauses at once, so no test waits.
func autoClock(t *testing.T) *clock.Fake {
	clk := clock.NewFake(paytest.Start)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-done:
				return
			case <-clk.WaiterAdded():
				clk.Advance(time.Hour)
			}
		}
	}()
	return clk
}
