package stacktest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/stacktest"
)

// A HIS that sends a bill and goes away, whenever it goes, never strands
// the bill: whether it half-closes its side right after sending, closes
// its connection 0 to 20 ms later, or is killed while it waits, the bill
// reaches an end without a resubmission, and the platform books it once.
func TestACallerThatGoesAwayNeverStrandsItsBill(t *testing.T) {
	// 20 ms each way between agent and platform: every caller below goes
	// while its bill is still being settled.
	s := stacktest.Start(t, stacktest.Options{Proxy: true})
	s.Proxy.Latency(20 * time.Millisecond)
	b := withAmount(body(t, s, "bank-card", 0), 1200)
	var keys []string
	send := func(key string, leave func(*net.TCPConn)) {
		t.Helper()
		c, err := net.Dial("tcp", s.APIAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(rawSettle(t, s, key, b)); err != nil {
			t.Fatal(err)
		}
		leave(c.(*net.TCPConn))
		keys = append(keys, key)
	}

	send("halfclose", func(c *net.TCPConn) { _ = c.CloseWrite() })
	for ms := range 21 {
		send(fmt.Sprintf("close-%dms", ms), func(c *net.TCPConn) {
			// The moment of hanging up is what this case is about: a
			// timer, not a synchronisation.
			<-time.After(time.Duration(ms) * time.Millisecond)
			_ = c.Close()
		})
	}
	keys = append(keys, killedCaller(t, s, "killed", b))

	for _, key := range keys {
		st := awaitEnd(t, s, key)
		if st.State != agent.StateSettled {
			t.Errorf("%s: %s (%+v); want settled", key, st.State, st.Error)
		}
	}
	ledger, err := s.Sandbox.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(ledger.Settlements); got != len(keys) {
		t.Fatalf("the platform booked %d settlements for %d bills; want one each", got, len(keys))
	}
	assertLedgers(t, s)
}

// rawSettle is the HTTP request a HIS sends to settle b under key.
func rawSettle(t *testing.T, s *stacktest.Stack, key string, b api.SettleBody) []byte {
	t.Helper()
	j, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, "POST /v1/settlements HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nIdempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		s.APIAddr, s.Token, key, len(j), j)
}

// awaitEnd waits until the bill under key has been driven to an end
// (anything but accepted, being sent, or booked with the patient's part
// still being taken). Only the journal can tell, so it is polled.
func awaitEnd(t *testing.T, s *stacktest.Stack, key string) *agent.Settlement {
	t.Helper()
	var st *agent.Settlement
	waitUntil(t, "the bill "+key+" to reach an end", 30*time.Second, func() bool {
		var err error
		st, err = s.Journal.ByKey(context.Background(), key)
		return err == nil && st.State != agent.StateAccepted && st.State != agent.StateSettling && st.State != agent.StatePaying
	})
	return st
}

// The caller killed while it waits is another process: this test binary
// run again as a HIS that sends the request, says so, and waits for an
// answer until it is killed.
const hangupCallerEnv = "MEDTERM_TEST_HANGUP_CALLER"

func killedCaller(t *testing.T, s *stacktest.Stack, key string, b api.SettleBody) string {
	t.Helper()
	req, err := json.Marshal(map[string]string{"addr": s.APIAddr, "request": string(rawSettle(t, s, key, b))})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHangupCallerProcess$")
	cmd.Env = append(os.Environ(), hangupCallerEnv+"="+string(req))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "sent") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the caller process did not send its request: %q", line)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return key
}

// TestHangupCallerProcess is the caller process of killedCaller; run by
// itself, it does nothing.
func TestHangupCallerProcess(t *testing.T) {
	v := os.Getenv(hangupCallerEnv)
	if v == "" {
		return
	}
	var in struct{ Addr, Request string }
	if err := json.Unmarshal([]byte(v), &in); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(in.Request)); err != nil {
		t.Fatal(err)
	}
	fmt.Println("sent")
	_, _ = c.Read(make([]byte, 1)) // until killed
	select {}
}
