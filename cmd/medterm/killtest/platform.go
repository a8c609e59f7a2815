package killtest

import (
	"crypto/rand"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Institution is the sandbox institution the daemon belongs to.
const Institution = "H44190000001"

// Platform is the sandbox platform served on loopback, in the test's own
// process (it is never killed), behind a handler that can lose answers.
type Platform struct {
	Sandbox  *sandbox.Platform
	Personas *personas.Dataset
	Lossy    *Lossy
	Secret   []byte
	URL      string
	srv      *http.Server
}

// StartPlatform opens a fresh sandbox state in dir and serves it on
// 127.0.0.1.
func StartPlatform(dir string, seed uint64) (*Platform, error) {
	data, err := personas.Default()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	sb, err := sandbox.Open(filepath.Join(dir, "sandbox.db"), sandbox.Options{
		Personas: data, Secrets: map[string][]byte{Institution: secret}, Reset: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sb.Close()
		return nil, err
	}
	lossy := NewLossy(sb.Handler(), seed)
	srv := &http.Server{Handler: lossy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Platform{Sandbox: sb, Personas: data, Lossy: lossy, Secret: secret, URL: "http://" + ln.Addr().String() + sandbox.CallPath, srv: srv}, nil
}

// Close stops serving and closes the state file.
func (p *Platform) Close() error {
	_ = p.srv.Close()
	return p.Sandbox.Close()
}

// Lossy lets every request through to the platform, which processes and
// commits it, and then loses a share of the answers: the connection is
// closed with nothing written, so the agent cannot know whether the
// platform acted. That is how in-doubt settlements are made.
type Lossy struct {
	next http.Handler
	mu   sync.Mutex
	rng  *mrand.Rand
	rate map[string]float64 // infno → share of answers lost
	lost map[string]int     // infno → answers lost so far
}

// NewLossy wraps next; it loses nothing until SetRates says so.
func NewLossy(next http.Handler, seed uint64) *Lossy {
	return &Lossy{next: next, rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), rate: map[string]float64{}, lost: map[string]int{}}
}

// SetRates sets the share of answers lost per transaction number; nil
// loses none.
func (l *Lossy) SetRates(rates map[string]float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = map[string]float64{}
	for k, v := range rates {
		l.rate[k] = v
	}
}

// Lost returns how many answers were lost per transaction number.
func (l *Lossy) Lost() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.lost))
	for k, v := range l.lost {
		out[k] = v
	}
	return out
}

func (l *Lossy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	infno := stacktest.PeekInfno(r)
	l.mu.Lock()
	drop := l.rate[infno] > 0 && l.rng.Float64() < l.rate[infno]
	if drop {
		l.lost[infno]++
	}
	l.mu.Unlock()
	if !drop {
		l.next.ServeHTTP(w, r)
		return
	}
	stacktest.LoseAnswer(w, r, l.next) // the platform commits; the answer never arrives
}
