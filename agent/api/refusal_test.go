package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/events"
)

// A refusal of the core reaches the HIS with its own stable code and what
// the patient should do, in Chinese and in English; nothing is stored.
func TestAnExpiredCardIsRefusedAsCARD_EXPIREDInBothLanguages(t *testing.T) {
	c := clock.NewFake(agenttest.Epoch)
	readers := agenttest.NewReaders()
	bus := events.NewBus(nil)
	sub := bus.Subscribe(8)
	defer sub.Close()
	desk := agent.NewDesk(agent.DeskConfig{Readers: readers, Events: bus, Clock: c,
		Identifier: agenttest.Identities{"desk0": {CardNo: "D19700001", IDNo: "441900197001201618", Name: "许文", Expired: true, ExpiryDate: "2020-05-31",
			ReadCardBas: "441900|441900197001201618|D19700001|0123|许文||1.00|20100531|20200531|||"}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- desk.Run(ctx) }()
	defer func() { cancel(); <-done }()
	readers.Set(agent.ReaderState{Reader: "desk0", Present: true, Counter: 1})
	select {
	case <-sub.C:
	case <-time.After(5 * time.Second):
		t.Fatal("the desk never read the card")
	}

	j := agenttest.NewJournal(c)
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: agenttest.NewInsurance(), Clock: c, Desk: desk})
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(token), Service: svc, Desk: desk})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, journal: j, host: srv.Addr()}
	body := strings.Replace(goodBody, `"cert_type":"02","cert_no":"11010519491231002X"`, `"card_reader":"desk0"`, 1)
	resp, eb := f.do(t, "POST", "/v1/settlements", body, map[string]string{"Idempotency-Key": "k-expired"})
	if resp.StatusCode != 400 || eb.Error.Code != agent.RefuseCardExpired {
		t.Fatalf("status %d code %q, want 400 CARD_EXPIRED", resp.StatusCode, eb.Error.Code)
	}
	if !strings.Contains(eb.Error.MessageZH, "社保卡已过期") || !strings.Contains(eb.Error.MessageEN, "expired") {
		t.Errorf("messages %q / %q do not say the card expired", eb.Error.MessageZH, eb.Error.MessageEN)
	}
	if j.Writes != 0 {
		t.Errorf("a refusal wrote the journal")
	}

	// The HIS registers the patient from the card: masked unless asked.
	_, masked := f.doRaw(t, "GET", "/v1/cards/desk0", "", nil)
	_, full := f.doRaw(t, "GET", "/v1/cards/desk0?reveal=true", "", nil)
	_, bas := f.doRaw(t, "GET", "/v1/cards/desk0?format=ireadcardbas", "", nil)
	if strings.Contains(string(masked), "441900197001201618") || !strings.Contains(string(masked), `"expired": true`) {
		t.Errorf("the card, masked: %s", masked)
	}
	if !strings.Contains(string(full), "441900197001201618") || !strings.Contains(string(full), "许文") {
		t.Errorf("the card, revealed: %s", full)
	}
	if string(bas) != "441900|441900197001201618|D19700001|0123|许文||1.00|20100531|20200531|||\n" {
		t.Errorf("the card as iReadCardBas: %q", bas)
	}
}
