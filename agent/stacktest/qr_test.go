package stacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// kioskStack is a stack with a kiosk: codes verified with the trust list
// the platform publishes, counters in the agent's journal.
type kioskStack struct {
	*stacktest.Stack
	kiosk *agent.Kiosk
	svc   *agent.Service
}

func startKiosk(t *testing.T, opts stacktest.Options) *kioskStack {
	t.Helper()
	opts.Proxy = true
	s := stacktest.Start(t, opts)
	v, err := credential.NewVerifier(&credential.TrustList{}, glue.Counters{Store: s.Journal}, clock.Real{}, credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	k := agent.NewKiosk(agent.KioskConfig{Verifier: glue.Verifier{V: v}})
	svc := agent.NewService(agent.ServiceConfig{Journal: s.Journal, Insurance: s.Insurance, Payment: s.Payments, Kiosk: k,
		Offline: agent.DefaultOfflinePolicy(), Receipt: agent.ReceiptHeader{TerminalID: "DESK01"}})
	ctx, cancel := context.WithCancel(context.Background())
	applied := make(chan struct{})
	go svc.RunTrustRefresh(ctx, func(raw []byte) error {
		tl, err := credential.DecodeTrustList(raw)
		if err == nil {
			err = v.SetTrustList(tl)
		}
		if err == nil {
			select {
			case <-applied:
			default:
				close(applied)
			}
		}
		return err
	})
	t.Cleanup(cancel)
	select {
	case <-applied:
	case <-time.After(10 * time.Second):
		t.Fatal("the platform's trust list never arrived")
	}
	return &kioskStack{Stack: s, kiosk: k, svc: svc}
}

// show has the persona's phone make a code and the kiosk scan it.
func (k *kioskStack) show(t *testing.T, persona string) (agent.Scan, string) {
	t.Helper()
	c, err := k.Sandbox.Code(context.Background(), persona)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := k.kiosk.Handle(context.Background(), agent.ScannedCode{Text: c.Text, At: time.Now(), Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return sc, c.Text
}

func (k *kioskStack) settle(t *testing.T, key, scan string, fen int64) (*agent.Settlement, error) {
	t.Helper()
	st, _, err := k.svc.Settle(context.Background(), agent.SettleRequest{
		IdempotencyKey: key, Identity: agent.IdentityInput{Scan: scan},
		Operator: agent.Operator{ID: "KIOSK1", Type: protocol.OpterKiosk},
		Bill: agent.Bill{VisitNo: "MZ" + key, DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "110200001", Class: "01", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(money.Fen(fen)), Amount: money.Fen(fen)}}},
	})
	return st, err
}

func TestSignedCodeAtTheKioskSettlesOnlineAndAScreenshotIsRefused(t *testing.T) {
	k := startKiosk(t, stacktest.Options{})
	sc, text := k.show(t, "bank-card")
	if !sc.Verified || sc.Kind != agent.ScanSigned {
		t.Fatalf("scan %+v; want a verified signed code", sc)
	}
	st, err := k.settle(t, "qr-1", sc.ID, 3000)
	if err != nil || st.State != agent.StateSettled || st.CertType != protocol.CertQR {
		t.Fatalf("settle: %v %+v", err, st)
	}
	// The same code again, as a screenshot would be: refused here, offline,
	// with what the patient should do.
	again, err := k.kiosk.Handle(context.Background(), agent.ScannedCode{Text: text, At: time.Now(), Source: "test"})
	if err != nil || again.Rejection == nil || again.Rejection.Reason != "REPLAYED" || again.Rejection.ZH == "" {
		t.Fatalf("replayed code: %+v %v", again, err)
	}
	_, err = k.settle(t, "qr-2", again.ID, 3000)
	var ref *agent.Refused
	if !errors.Is(err, agent.ErrInvalid) || !errors.As(err, &ref) || ref.Code != "CODE_REPLAYED" || !strings.Contains(ref.ZH, "刷新医保码") {
		t.Fatalf("settling a refused scan: %v", err)
	}
	assertLedgerSettlements(t, k.Stack, 1)
}

func TestOpaqueCodeIsCheckedOnlineOnly(t *testing.T) {
	k := startKiosk(t, stacktest.Options{})
	sc, _ := k.show(t, "opaque-only")
	if sc.Kind != agent.ScanOpaque || sc.Verified {
		t.Fatalf("scan %+v; want an opaque code", sc)
	}
	if st, err := k.settle(t, "op-1", sc.ID, 2000); err != nil || st.State != agent.StateSettled {
		t.Fatalf("online: %v %+v", err, st)
	}
	if err := k.Proxy.Refuse(); err != nil {
		t.Fatal(err)
	}
	sc, _ = k.show(t, "opaque-only")
	st, err := k.settle(t, "op-2", sc.ID, 2000)
	if err != nil || st.State != agent.StateFailed || !strings.Contains(st.Error.Message, agent.LimitIdentity) {
		t.Fatalf("offline opaque code: %v %+v; want refused naming the identity limit", err, st)
	}
}

func TestVerifiedCodeDuringAnOutageIsDeferredAndForwardedLater(t *testing.T) {
	k := startKiosk(t, stacktest.Options{})
	if err := k.Proxy.Refuse(); err != nil {
		t.Fatal(err)
	}
	sc, _ := k.show(t, "acct-first") // verified offline: the trust list was fetched before
	if !sc.Verified {
		t.Fatalf("scan %+v", sc)
	}
	st, err := k.settle(t, "out-qr", sc.ID, 4000)
	if err != nil || st.State != agent.StateDeferred || st.Offline != agent.TrustQRSigned {
		t.Fatalf("outage: %v %+v", err, st)
	}
	if err := k.Proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	st, err = k.svc.Forward(context.Background(), st.ID)
	if err != nil || st.State != agent.StateSettled {
		raw, _ := json.Marshal(st)
		t.Fatalf("forwarded: %v %s", err, raw)
	}
	assertLedgerSettlements(t, k.Stack, 1)
}
