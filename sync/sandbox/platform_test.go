package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/transport"
)

func TestOpenRefuses(t *testing.T) {
	data, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.db")
	if _, err := sandbox.Open(path, sandbox.Options{Personas: data}); !errors.Is(err, sandbox.ErrOptions) {
		t.Errorf("no secrets: %v", err)
	}
	if _, err := sandbox.Open(path, sandbox.Options{Secrets: secrets}); !errors.Is(err, sandbox.ErrOptions) {
		t.Errorf("a fresh file without personas: %v", err)
	}

	p, err := sandbox.Open(path, sandbox.Options{Personas: data, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = sandbox.Open(path, sandbox.Options{Secrets: secrets, LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, sandbox.ErrState) || time.Since(began) > 5*time.Second {
		t.Errorf("a locked file: %v after %s", err, time.Since(began))
	} else {
		mustContain(t, err.Error(), "locked by another process")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// A file written by a newer sandbox is refused, not misread.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sandbox.Open(path, sandbox.Options{Secrets: secrets})
	if !errors.Is(err, sandbox.ErrState) {
		t.Fatalf("a newer schema: %v", err)
	}
	mustContain(t, err.Error(), "newer")
}

func TestAnExistingStateIsReusedUntilReset(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	h.settle(h.prepare("acct-first", classA(cny(100))))
	h.close()

	// Another data set does not replace the seeded one.
	other, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	other.People = other.People[:1]
	p, err := sandbox.Open(h.path, sandbox.Options{Personas: other, Secrets: secrets, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Settlements) != 1 || len(l.People) != len(h.data.People) {
		t.Fatalf("reused state: %d settlements, %d people", len(l.Settlements), len(l.People))
	}
	p.Close()

	p, err = sandbox.Open(h.path, sandbox.Options{Personas: h.data, Secrets: secrets, Clock: h.clock, Reset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l, err = p.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := l.Person("acct-first")
	if len(l.Settlements) != 0 || acct.AccountBalance.Fen() != cny(2000) {
		t.Fatalf("reset state: %d settlements, account %s", len(l.Settlements), acct.AccountBalance.Fen())
	}
}

func TestTheSeededYearUsageCountsForTheSeedingYear(t *testing.T) {
	h := newHarness(t)
	lp, _ := h.ledger().Person("near-cap")
	if u := lp.Years["2026"]; u.FundPaid.Fen() != cny(7950) || u.DeductibleUsed.Fen() != cny(500) {
		t.Fatalf("near-cap 2026 usage %+v", lp.Years)
	}
}

// TestConcurrentResendsBookOnce sends the same 2207 from many goroutines
// at once, as a terminal retrying over several connections might: one
// booking, one answer.
func TestConcurrentResendsBookOnce(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(100)))
	body := h.envelope("2207", h.nextMsgid(), b.settleInput())
	const n = 8
	answers := make([]protocol.Response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = sendRaw(h.srv.URL, h.srv.Client(), "2207", body, h.clock.Now())
		}()
	}
	wg.Wait()
	firsts := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if answers[i].Infcode != 0 {
			t.Fatalf("answer %d: %+v", i, answers[i])
		}
		if answers[i].WarnMsg == "" {
			firsts++
		}
		if !bytes.Equal(answers[i].Output, answers[0].Output) {
			t.Fatalf("answers differ:\n%s\n%s", answers[i].Output, answers[0].Output)
		}
	}
	if firsts != 1 {
		t.Fatalf("%d first answers, want 1", firsts)
	}
	if l := h.ledger(); len(l.Settlements) != 1 {
		t.Fatalf("%d settlements booked", len(l.Settlements))
	}
}

// sendRaw signs and posts a body with a fresh nonce, without a testing.T,
// for use from goroutines.
func sendRaw(base string, c *http.Client, infno string, body []byte, now time.Time) (protocol.Response, error) {
	r, err := http.NewRequest(http.MethodPost, base+sandbox.CallPath, bytes.NewReader(body))
	if err != nil {
		return protocol.Response{}, err
	}
	tif, err := transport.NewTif(inst, string(secrets[inst]), clock.NewFake(now))
	if err != nil {
		return protocol.Response{}, err
	}
	if err := tif.Authorize(context.Background(), r); err != nil {
		return protocol.Response{}, err
	}
	res, err := c.Do(r)
	if err != nil {
		return protocol.Response{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return protocol.Response{}, err
	}
	var resp protocol.Response
	return resp, json.Unmarshal(data, &resp)
}

func TestListenAcceptsLoopbackOnly(t *testing.T) {
	data, _ := personas.Default()
	p, err := sandbox.Open(filepath.Join(t.TempDir(), "s.db"), sandbox.Options{Personas: data, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:0", "[::]:0", "example.com:80"} {
		if _, err := sandbox.Listen(p, addr); !errors.Is(err, sandbox.ErrOptions) {
			t.Errorf("Listen(%q) = %v, want ErrOptions", addr, err)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	data, _ := personas.Default()
	clk := clock.NewFake(start)
	p, err := sandbox.Open(filepath.Join(t.TempDir(), "s.db"), sandbox.Options{Personas: data, Secrets: secrets, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv, err := sandbox.Listen(p, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	res, err := http.Get(srv.URL() + "/admin/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("health: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := http.Get(srv.URL() + "/admin/health"); err == nil {
		t.Fatal("still serving after Run returned")
	}
}
