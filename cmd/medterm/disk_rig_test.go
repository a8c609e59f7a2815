//go:build linux

package main

// The rig of the disk tests: the sandbox platform and payment channel on
// loopback, a daemon configuration whose journal lives where the test puts
// it, the daemon run in this process as `medterm serve`, and what the HIS
// and the staff see.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/cmd/medterm/killtest"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

const diskInstitution = "H44190000001"

// diskRig is the sandbox's two counterparties (the insurance platform and
// the payment channel), a daemon configuration whose journal lives at
// journal, and the API client of the daemon when it runs.
type diskRig struct {
	t        *testing.T
	dir      string // configuration, key, token and secrets: the ordinary disk
	journal  string
	cfg      string
	api      *api.Client
	sandbox  *sandbox.Platform
	channel  *paychannel.Channel
	personas *personas.Dataset

	mu sync.Mutex
	// committed, if set, runs after the platform has committed a
	// settlement (2207) and before its answer is written.
	committed func()
}

// newDiskRig starts the sandbox on loopback and writes the daemon's
// configuration, with the journal file at journal.
func newDiskRig(t *testing.T, journal string) *diskRig {
	t.Helper()
	r := &diskRig{t: t, dir: t.TempDir(), journal: journal}
	var err error
	if r.personas, err = personas.Default(); err != nil {
		t.Fatal(err)
	}
	token := killtest.NewToken()
	r.sandbox, err = sandbox.Open(filepath.Join(r.dir, "sandbox.db"), sandbox.Options{
		Personas: r.personas, Secrets: map[string][]byte{diskInstitution: []byte(token)}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sandbox.Close() })
	platform := r.sandbox.Handler()
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if stacktest.PeekInfno(req) != protocol.Settle.Infno {
			platform.ServeHTTP(w, req)
			return
		}
		rec := httptest.NewRecorder()
		platform.ServeHTTP(rec, req) // committed
		r.mu.Lock()
		hook := r.committed
		r.mu.Unlock()
		if hook != nil {
			hook()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, rec.Body)
	}))
	hs.Listener.Close()
	if hs.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	hs.Start()
	t.Cleanup(hs.Close)

	// The payment channel, on the ordinary disk like the platform: only
	// the daemon's journal is on the disk that fails.
	keys, err := paychannel.LoadOrMakeKeys(filepath.Join(r.dir, "payment-keys"))
	if err != nil {
		t.Fatal(err)
	}
	r.channel, err = paychannel.Open(filepath.Join(r.dir, "paychannel.db"), paychannel.Options{
		Key: keys.Channel, Merchants: map[string]*ecdsa.PublicKey{paychannel.MerchantID: keys.Merchant},
		Personas: r.personas, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.channel.Close() })
	ps := httptest.NewUnstartedServer(r.channel.Handler())
	ps.Listener.Close()
	if ps.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ps.Start()
	t.Cleanup(ps.Close)

	// The daemon binds the same API address on every start.
	addr := freeAddr(t)
	apiToken := strings.Repeat("d", 32)
	if err := os.WriteFile(filepath.Join(r.dir, "api.token"), []byte(apiToken+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	r.api = api.NewClient(addr, apiToken)
	if r.cfg, err = killtest.WriteConfig(r.dir, killtest.Setup{PlatformURL: hs.URL + sandbox.CallPath, Institution: diskInstitution,
		Token: token, APIAddr: addr, Terminal: "T1", Slot: 3, JournalPath: journal, Patient: true,
		Payment: &killtest.PaymentSetup{URL: ps.URL + paychannel.BasePath, KeyFile: keys.MerchantKeyFile, ChannelKeyFile: keys.ChannelPubFile},
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// onCommitted sets (or, with nil, clears) the hook run after the
// platform commits a settlement.
func (r *diskRig) onCommitted(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.committed = f
}

// diskDaemon is `medterm serve` running in this process.
type diskDaemon struct {
	cancel context.CancelFunc
	done   chan error
	out    *lockedBuffer
}

// start runs the daemon until it answers, or returns why it exited.
func (r *diskRig) start() (*diskDaemon, error) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &diskDaemon{cancel: cancel, done: make(chan error, 1), out: &lockedBuffer{}}
	root := newRoot()
	root.SetOut(d.out)
	root.SetErr(d.out)
	root.SetArgs([]string{"serve", "--config", r.cfg})
	go func() { d.done <- root.ExecuteContext(ctx) }()
	end := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-d.done:
			cancel()
			if err == nil {
				err = errors.New("serve returned without an error")
			}
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := r.api.Do(context.Background(), http.MethodGet, "/v1/health", nil, nil, nil); err == nil {
			r.t.Cleanup(func() { d.stop(r.t) })
			return d, nil
		}
		if time.Now().After(end) {
			cancel()
			r.t.Fatalf("the daemon did not answer within 10 s:\n%s", d.out)
		}
	}
}

// mustStart starts the daemon or fails the test.
func (r *diskRig) mustStart() *diskDaemon {
	r.t.Helper()
	d, err := r.start()
	if err != nil {
		r.t.Fatalf("serve: %v", err)
	}
	return d
}

// stop shuts the daemon down and waits for it; the journal file is
// closed when it returns. Stopping twice does nothing.
func (d *diskDaemon) stop(t *testing.T) {
	t.Helper()
	if d.done == nil {
		return
	}
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			t.Logf("serve ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not stop within 30 s:\n%s", d.out)
	}
	d.done = nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cli runs a medterm command as window staff would, and returns its
// output and exit code.
func (r *diskRig) cli(args ...string) (string, int) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--config", r.cfg))
	code := report(root, root.ExecuteContext(context.Background()))
	return out.String(), code
}

// diskPatients take turns, so that no patient's limits get in the way.
var diskPatients = []string{"acct-first", "bank-card", "deductible-met", "family-signer"}

// bill is bill number i, identified by the patient's ID number.
func (r *diskRig) bill(i int) (key string, body api.SettleBody) {
	p, ok := r.personas.ByKey(diskPatients[i%len(diskPatients)])
	if !ok {
		r.t.Fatal("persona missing")
	}
	fen := money.Fen(100 + i)
	return fmt.Sprintf("disk-%d", i), api.SettleBody{
		Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno},
		Operator: agent.Operator{ID: "D017", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: fmt.Sprintf("MZ%d", i), DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{
			{Code: "001102000010000", Class: "01", Quantity: money.QuantityOf(1), UnitPriceFen: fen, Amount: fen},
		}},
	}
}

// settle submits bill i and reports the answer.
func (r *diskRig) settle(i int) (api.SettlementView, error) {
	key, body := r.bill(i)
	return r.api.Settle(context.Background(), key, body)
}

// mustSettle settles bill i or fails the test.
func (r *diskRig) mustSettle(i int) api.SettlementView {
	r.t.Helper()
	v, err := r.settleThrough(i)
	if err != nil || v.State != agent.StateSettled {
		r.t.Fatalf("bill %d: %v %s %+v", i, err, v.State, v.Error)
	}
	return v
}

// settleThrough settles bill i; a part whose payment the channel has not
// answered within its attempts (a loaded machine) leaves the bill paying,
// and submitting it again under its key resumes it, as a HIS would, until
// the channel's answer settles it. Created is the first submission's.
//
// A bill refused because the platform did not answer in time (a loaded
// machine: it failed with nothing booked, and the offline limits do not
// take an ID number) is submitted again too, as the window would: the
// disk, not the platform, is what these tests are about, and the books
// at their end show nothing was charged twice.
func (r *diskRig) settleThrough(i int) (api.SettlementView, error) {
	v, err := r.settle(i)
	created := v.Created
	for end := time.Now().Add(30 * time.Second); err == nil && time.Now().Before(end); {
		unreachable := v.State == agent.StateFailed && v.Error != nil && v.Error.Code == agent.FailOfflineLimit &&
			strings.HasPrefix(v.Error.Message, "platform unreachable")
		if v.State != agent.StatePaying && !unreachable {
			break
		}
		if unreachable {
			r.t.Logf("bill %d refused while the platform did not answer (%s): submitted again", i, v.Error.Message)
		}
		v, err = r.settle(i)
	}
	v.Created = created
	return v, err
}

// wantStored checks that every acknowledged settlement reads back from
// the daemon as it was answered.
func (r *diskRig) wantStored(when string, acked []api.SettlementView) {
	r.t.Helper()
	for _, a := range acked {
		v, err := r.api.Get(context.Background(), a.ID, false)
		if err != nil || v.State != a.State || !sameSplit(v.Split, a.Split) || v.SetlID != a.SetlID || v.Pay.Status != a.Pay.Status || v.Pay.Amount != a.Pay.Amount {
			r.t.Errorf("%s: acknowledged %s (%s %s, part %s) reads back as %v %s %s, part %s", when, a.ID, a.State, a.Split, a.Pay.Status, err, v.State, v.Split, v.Pay.Status)
		}
	}
}

// sameSplit compares two splits' amounts (the funds' breakdown is a
// slice, which == cannot compare).
func sameSplit(a, b agent.InsuranceSplit) bool {
	return a.Total == b.Total && a.Fund == b.Fund && a.Account == b.Account && a.Cash == b.Cash && a.Hospital == b.Hospital
}

// wantBooks checks both counterparties' ledgers: each settled bill booked
// once by the platform, for its split, and its part paid once by the
// payment channel, for its amount, when the daemon answered it paid;
// nothing else booked by either.
func (r *diskRig) wantBooks(settled []api.SettlementView) {
	r.t.Helper()
	l, err := r.sandbox.Ledger(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	want := map[string]api.SettlementView{}
	for _, v := range settled {
		want[v.ID] = v
	}
	seen := map[string]int{}
	for _, e := range l.Settlements {
		if e.Cancelled || e.Reversed {
			continue
		}
		v, ok := want[e.ChrgBchno]
		if !ok {
			r.t.Errorf("the platform booked %s for %q, which the daemon never answered settled", e.SetlID, e.ChrgBchno)
			continue
		}
		seen[e.ChrgBchno]++
		if e.SetlID != v.SetlID || e.MedfeeSumamt.Fen() != v.Split.Total || e.FundPaySumamt.Fen() != v.Split.Fund ||
			e.AcctPay.Fen() != v.Split.Account || e.PsnCashPay.Fen() != v.Split.Cash {
			r.t.Errorf("%s booked as %s %s; answered %s %s", v.ID, e.SetlID, e.MedfeeSumamt.Fen(), v.SetlID, v.Split)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			r.t.Errorf("%s is booked %d times; want once", id, seen[id])
		}
	}
	pl, err := r.channel.Ledger()
	if err != nil {
		r.t.Fatal(err)
	}
	orders := map[string]string{} // the daemon's payment orders → settlement id
	paid := map[string]money.Fen{}
	for _, s := range settled {
		v, err := r.api.Get(context.Background(), s.ID, false) // with its orders
		if err != nil {
			r.t.Fatalf("%s: %v", s.ID, err)
		}
		for _, o := range v.Pay.Orders {
			orders[o.OrderID] = v.ID
		}
		if v.Pay.Status == agent.PayPaid {
			paid[v.ID] = v.Pay.Amount
		}
	}
	debited := map[string]int{}
	for _, o := range pl.Orders {
		if !o.Booked() {
			continue
		}
		id, ok := orders[o.OrderID]
		switch {
		case !ok:
			r.t.Errorf("the payment channel booked order %s (%s) of no bill the daemon answered settled", o.OrderID, o.Amount)
		case o.TxnType != acp.TxnConsume || o.Amount != paid[id]:
			r.t.Errorf("%s: the channel booked %s of type %s; the daemon shows %s paid", id, o.Amount, o.TxnType, paid[id])
		default:
			debited[id]++
		}
	}
	if len(paid) == 0 {
		r.t.Error("no bill's part was paid: the rig's patients take turns so that bank-card's part is taken by the channel")
	}
	for id := range paid {
		if debited[id] != 1 {
			r.t.Errorf("%s's part is debited %d times; want once", id, debited[id])
		}
	}
}

// wantJournalError checks that err is the API's answer for a journal that
// cannot store: 503 journal_unavailable, naming the cause.
// wantJournalError checks a 503 for a journal failure naming cause: the
// journal could not store the bill (journal_unavailable), or it stored the
// bill but not the outcome of a later step (outcome_not_recorded).
func wantJournalError(t *testing.T, err error, cause string) *api.APIError {
	t.Helper()
	var ae *api.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable ||
		(ae.Code != "JOURNAL_UNAVAILABLE" && ae.Code != "OUTCOME_NOT_RECORDED") || !strings.Contains(ae.Message, cause) {
		t.Fatalf("answer %v; want 503 journal_unavailable or outcome_not_recorded naming %q", err, cause)
	}
	return ae
}
