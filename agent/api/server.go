// Package api is the agent's local HTTP API for the HIS on the same PC, the
// kiosk page and the window CLI: versioned JSON under /v1/, guarded against
// web pages (Host and Origin checks, a bearer token), with strict decoding
// and size limits, and a Go client for the CLI.
package api

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/events"
)

// MaxBody bounds a request body. A 500-item bill is well under it.
const MaxBody = 512 << 10

// Status reports the agent's health for the status endpoint.
type StatusFunc func(ctx context.Context) any

// Config wires the API.
type Config struct {
	Addr    string // host:port to listen on; loopback unless AllowRemote
	Token   []byte
	Origins []string // browser origins allowed to call the API
	// ExtraHosts are more Host values to accept (a kiosk LAN name).
	ExtraHosts  []string
	AllowRemote bool
	Service     *agent.Service
	Desk        *agent.Desk  // card readers, if the terminal has any
	Kiosk       *agent.Kiosk // scanned codes
	Events      *events.Bus  // streamed at /v1/events
	Drain       func()       // starts a forced drain of the backlog (POST /v1/sync)
	Metrics     http.Handler // served at /metrics
	Status      StatusFunc
	Version     string
	// TerminalID is this terminal's id: the kiosk page pays as it.
	TerminalID string
	// KioskIdle is how long the kiosk page waits for a touch before it
	// returns to the start and forgets the patient: default 60 seconds.
	KioskIdle time.Duration
	// Now is the clock of the short-lived credentials (tests); default
	// time.Now.
	Now func() time.Time
	// Print prints a receipt on this terminal's printer; nil: none.
	Print  func(ctx context.Context, text string) error
	Logger *slog.Logger
}

// Server is the local API. Run it with Run.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	ln      net.Listener
	done    chan struct{} // closed at shutdown: ends event streams
	creds   *credentials
}

// publicRoutes need no credential: the kiosk page itself, the session it
// asks for (loopback peers only), and a liveness check that says nothing
// else.
var publicRoutes = []string{"GET /kiosk", "GET /kiosk/{file}", "POST /v1/kiosk/session", "GET /v1/livez"}

// patternMux is a mux that only tells whether a request matches one of
// patterns.
func patternMux(patterns []string) *http.ServeMux {
	m := http.NewServeMux()
	for _, p := range patterns {
		m.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	return m
}

// New listens on cfg.Addr and returns the server. Listening happens here,
// not in Run, so that a port conflict is reported at start-up and tests can
// read the bound address.
func New(cfg Config) (*Server, error) {
	if len(cfg.Token) < 16 {
		return nil, fmt.Errorf("api: token missing or shorter than 16 characters")
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("api: address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); !cfg.AllowRemote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("api: address %q is not a loopback address (set allow_remote for a kiosk LAN)", cfg.Addr)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KioskIdle <= 0 {
		cfg.KioskIdle = 60 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ln: ln, done: make(chan struct{}), creds: newCredentials(cfg.Now)}
	hosts := allowedHosts(ln.Addr().String(), cfg.ExtraHosts)
	s.handler = &guard{
		hosts:   hosts,
		origins: append(slices.Clone(cfg.Origins), ownOrigins(hosts)...),
		token:   cfg.Token,
		creds:   s.creds,
		public:  patternMux(publicRoutes),
		kiosk:   patternMux(kioskRoutes),
		next:    s.routes(),
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Handler is the guarded handler, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves until ctx ends, then shuts down gracefully: requests in
// flight finish (their settlements are journaled either way).
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	close(s.done)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

// table is every route of the API; the OpenAPI test walks it.
func (s *Server) table() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /v1/health": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "version": s.cfg.Version})
		},
		"GET /v1/status": s.status,
		"GET /v1/openapi.json": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openapiDoc)
		},
		"POST /v1/settlements":              s.createSettlement,
		"GET /v1/settlements":               s.listSettlements,
		"GET /v1/settlements/{id}":          s.getSettlement,
		"GET /v1/settlements/{id}/receipt":  s.getReceipt,
		"POST /v1/settlements/{id}/refund":  s.refund,
		"POST /v1/settlements/{id}/confirm": s.confirm,
		"POST /v1/settlements/{id}/collect": s.collect,
		"POST /v1/settlements/{id}/print":   s.printReceipt,
		"GET /v1/cards":                     s.listCards,
		"GET /v1/cards/{reader}":            s.getCard,
		"POST /v1/bills":                    s.holdBill,
		"GET /v1/bills":                     s.listBills,
		"POST /v1/bills/find":               s.findBills,
		"GET /v1/bills/{id}":                s.getBill,
		"POST /v1/bills/{id}/cancel":        s.cancelBill,
		"POST /v1/bills/{id}/settle":        s.settleBill,
		"GET /v1/scans/{id}":                s.getScan,
		"POST /v1/scans/image":              s.scanImage,
		"GET /v1/events":                    s.streamEvents,
		"POST /v1/settlements/{id}/void":    s.void,
		"POST /v1/sync":                     s.syncNow,
		"POST /v1/reconcile":                s.reconcile,
		"GET /v1/reconcile/last":            s.lastReconcile,
		"GET /metrics":                      s.metrics,
		"GET /v1/livez":                     s.livez,
		"GET /kiosk":                        s.kioskPage,
		"GET /kiosk/{file}":                 s.kioskAsset,
		"POST /v1/kiosk/session":            s.kioskSession,
		"POST /v1/events/ticket":            s.eventTicket,
		"POST /v1/agreements/find":          s.findAgreement,
		"POST /v1/agreements":               s.signAgreement,
		"POST /v1/agreements/limits":        s.agreementLimits,
		"POST /v1/agreements/cancel":        s.cancelAgreement,
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "metrics are not enabled")
		return
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}

// Routes lists the API's routes as "METHOD /path".
func Routes() []string {
	var out []string
	for r := range (&Server{}).table() {
		out = append(out, r)
	}
	return out
}

// routes serves the route table. A catch-all "/" pattern would match every
// method and so hide the mux's 405 for a known path; instead a request no
// pattern takes is answered here, in JSON like every other error, with the
// mux's own Allow header when the path is known under other methods.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range s.table() {
		mux.HandleFunc(pattern, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, codeMethod, "this endpoint does not take this method; see the Allow header")
			return
		}
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint (see /v1/openapi.json)")
	})
}

// headerProbe records the status and headers of the mux's own answer for
// an unmatched request, and drops its plain-text body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(status int)      { p.status = status }

//go:embed openapi.json
var openapiDoc []byte
