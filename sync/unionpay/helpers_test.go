package unionpay

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// rig is a client pointed at a scripted channel on loopback.
type rig struct {
	t        *testing.T
	merchant *sm2.PrivateKey
	channel  *sm2.PrivateKey
	srv      *httptest.Server
	client   *Client
	cfg      Config

	mu  sync.Mutex
	got []acp.Fields // every request, verified
	// answer scripts the channel: the n-th request (from 1) and its
	// fields; it writes the answer with reply, hangUp, or anything else.
	answer func(w http.ResponseWriter, n int, req acp.Fields)
}

const testMerID = "898440148160001"

func newRig(t *testing.T, answer func(w http.ResponseWriter, n int, req acp.Fields)) *rig {
	t.Helper()
	r := &rig{t: t, merchant: genKey(t), channel: genKey(t), answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	r.cfg = Config{
		URL: r.srv.URL + "/gateway/api", MerchantID: testMerID, TokenRequestor: "62000000001", Enabled: true,
		KeyFile: writeKey(t, r.merchant), ChannelKeyFile: writePub(t, "channel.pub", &r.channel.PublicKey),
		AttemptTimeout: 5 * time.Second,
	}
	c, err := New(r.cfg, Options{Clock: autoClock(t)})
	if err != nil {
		t.Fatal(err)
	}
	r.client = c
	return r
}

func (r *rig) serve(w http.ResponseWriter, hr *http.Request) {
	body, _ := io.ReadAll(hr.Body)
	f, err := acp.Decode(string(body))
	if err != nil {
		r.t.Errorf("the client sent a body that does not decode: %v", err)
		return
	}
	if err := acp.Verify([]*ecdsa.PublicKey{&r.merchant.PublicKey}, f); err != nil {
		r.t.Errorf("the client's request does not verify with the merchant key: %v", err)
	}
	if f[acp.FVersion] != acp.Version || f[acp.FEncoding] != acp.Encoding || f[acp.FMerID] != testMerID {
		r.t.Errorf("common fields: %v", f)
	}
	r.mu.Lock()
	r.got = append(r.got, f)
	n := len(r.got)
	r.mu.Unlock()
	r.answer(w, n, f)
}

func (r *rig) requests() []acp.Fields {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]acp.Fields(nil), r.got...)
}

// reply signs and writes an answer that echoes req's order.
func (r *rig) reply(w http.ResponseWriter, req acp.Fields, kv ...string) {
	ans := echo(req, kv...)
	if err := acp.Sign(r.channel, ans); err != nil {
		r.t.Fatal(err)
	}
	writeForm(w, ans)
}

func echo(req acp.Fields, kv ...string) acp.Fields {
	ans := acp.Fields{}
	for _, k := range []string{acp.FVersion, acp.FEncoding, acp.FMerID, acp.FOrderID, acp.FTxnTime, acp.FTxnType, acp.FTxnAmt} {
		ans[k] = req[k]
	}
	for i := 0; i+1 < len(kv); i += 2 {
		ans[kv[i]] = kv[i+1]
	}
	return ans
}

func writeForm(w http.ResponseWriter, f acp.Fields) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	_, _ = io.WriteString(w, f.Encode())
}

// hangUp closes the connection without an answer: the request was read.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func genKey(t *testing.T) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeKey(t *testing.T, k *sm2.PrivateKey) string {
	t.Helper()
	data, err := acp.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "payment.key")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writePub(t *testing.T, name string, keys ...*ecdsa.PublicKey) string {
	t.Helper()
	var data []byte
	for _, k := range keys {
		b, err := acp.MarshalPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// autoClock is a fake clock that fires every timer as soon as it is set,
// so resend pauses cost no time and no test sleeps.
func autoClock(t *testing.T) *clock.Fake {
	clk := clock.NewFake(time.Date(2026, 3, 10, 10, 0, 0, 0, acp.CST))
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

var orderTime = time.Date(2026, 3, 10, 9, 30, 0, 0, acp.CST)

func order(id string, amount int64) agent.PayOrder {
	return agent.PayOrder{
		OrderRef: agent.OrderRef{OrderID: id, TxnTime: orderTime}, Amount: money.Fen(amount),
		AgreementID: "AG0001", Source: agent.PaySource{Kind: agent.SourceBankCard, Token: "6235240000000000001"},
		Settlement: "S20260310001",
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
