package killtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Institution is the sandbox institution the daemon belongs to.
const Institution = "H44190000001"

// Platform is the two counterparties of every settlement, served on
// loopback in the test's own process (they are never killed): the
// sandbox insurance platform and the sandbox payment channel, each on its
// own listener, each behind a handler that can lose answers.
type Platform struct {
	Sandbox  *sandbox.Platform
	Personas *personas.Dataset
	Lossy    *Lossy
	// Token is the institution's tif token (paasid: the institution
	// code), printable so that the daemon's token_file holds it.
	Token string
	URL   string // the gateway's one URL

	// The payment channel, its keys (the daemon's [payment] key files)
	// and its base URL.
	PayChannel *paychannel.Channel
	PayLossy   *Lossy
	PayKeys    paychannel.Keys
	PayURL     string

	srvs []*http.Server
}

// StartPlatform opens fresh sandbox states in dir and serves both
// counterparties on 127.0.0.1.
func StartPlatform(dir string, seed uint64) (*Platform, error) {
	data, err := personas.Default()
	if err != nil {
		return nil, err
	}
	return StartPlatformWith(dir, seed, data, nil)
}

// StartPlatformWith is StartPlatform with other people: data on the
// platform's side, pay on the channel's (nil: the built-in agreements).
func StartPlatformWith(dir string, seed uint64, data *personas.Dataset, pay *paychannel.Data) (*Platform, error) {
	p := &Platform{Personas: data, Token: NewToken()}
	var err error
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	p.Sandbox, err = sandbox.Open(filepath.Join(dir, "sandbox.db"), sandbox.Options{
		Personas: data, Secrets: map[string][]byte{Institution: []byte(p.Token)}, Reset: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	if p.PayKeys, err = paychannel.LoadOrMakeKeys(filepath.Join(dir, "payment-keys")); err != nil {
		return nil, err
	}
	p.PayChannel, err = paychannel.Open(filepath.Join(dir, "paychannel.db"), paychannel.Options{
		Key: p.PayKeys.Channel, Merchants: map[string]*ecdsa.PublicKey{paychannel.MerchantID: p.PayKeys.Merchant},
		Data: pay, Personas: data, Reset: true, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	p.Lossy = NewLossy(p.Sandbox.Handler(), seed)
	addr, err := p.serve(p.Lossy)
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + addr + sandbox.CallPath
	p.PayLossy = newLossy(p.PayChannel.Handler(), seed^0xa0761d6478bd642f, PeekTxnType)
	if addr, err = p.serve(p.PayLossy); err != nil {
		return nil, err
	}
	p.PayURL = "http://" + addr + paychannel.BasePath
	ok = true
	return p, nil
}

func (p *Platform) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	p.srvs = append(p.srvs, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// Payment is the daemon's [payment] section for this platform's channel.
func (p *Platform) Payment() *PaymentSetup {
	return &PaymentSetup{URL: p.PayURL, KeyFile: p.PayKeys.MerchantKeyFile, ChannelKeyFile: p.PayKeys.ChannelPubFile}
}

// Close stops serving and closes the state files.
func (p *Platform) Close() error {
	for _, s := range p.srvs {
		_ = s.Close()
	}
	var errs []error
	if p.PayChannel != nil {
		errs = append(errs, p.PayChannel.Close())
	}
	if p.Sandbox != nil {
		errs = append(errs, p.Sandbox.Close())
	}
	return errors.Join(errs...)
}

// NewToken returns a fresh tif token: hex digits, so that it is one line
// of text in the daemon's token_file and the same bytes in the sandbox's
// secrets.
func NewToken() string {
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	return hex.EncodeToString(raw)
}

// Lossy lets every request through to the counterparty, which processes
// and commits it, and then loses a share of the answers: the connection is
// closed with nothing written, so the agent cannot know whether the
// counterparty acted. That is how in-doubt settlements, and payments whose
// outcome is unknown, are made.
type Lossy struct {
	next http.Handler
	peek func(*http.Request) string
	mu   sync.Mutex
	rng  *mrand.Rand
	rate map[string]float64 // kind of request → share of answers lost
	lost map[string]int     // kind of request → answers lost so far
}

// NewLossy wraps the insurance platform's handler, its requests told
// apart by infno; it loses nothing until SetRates says so.
func NewLossy(next http.Handler, seed uint64) *Lossy {
	return newLossy(next, seed, stacktest.PeekInfno)
}

func newLossy(next http.Handler, seed uint64, peek func(*http.Request) string) *Lossy {
	return &Lossy{next: next, peek: peek, rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rate: map[string]float64{}, lost: map[string]int{}}
}

// PeekTxnType reads the ACP txnType of a request to the payment channel
// (01 consume, 00 query, M0 an agreement lookup...), and puts the body
// back for the channel.
func PeekTxnType(r *http.Request) string {
	body, err := io.ReadAll(io.LimitReader(r.Body, acp.MaxBody+1))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	f, err := acp.Decode(string(body))
	if err != nil {
		return ""
	}
	return f[acp.FTxnType]
}

// SetRates sets the share of answers lost per kind of request (infno, or
// txnType on the channel); nil loses none.
func (l *Lossy) SetRates(rates map[string]float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = map[string]float64{}
	for k, v := range rates {
		l.rate[k] = v
	}
}

// Lost returns how many answers were lost per kind of request.
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
	kind := l.peek(r)
	l.mu.Lock()
	drop := l.rate[kind] > 0 && l.rng.Float64() < l.rate[kind]
	if drop {
		l.lost[kind]++
	}
	l.mu.Unlock()
	if !drop {
		l.next.ServeHTTP(w, r)
		return
	}
	stacktest.LoseAnswer(w, r, l.next) // the counterparty commits; the answer never arrives
}
