package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/seed-a859fada/medterm/sync/sandbox/loopback"
)

// shutdownGrace bounds the wait for in-flight requests at shutdown. A
// request is one bbolt transaction, so it finishes quickly or not at all.
const shutdownGrace = 10 * time.Second

// Server serves a Platform over HTTP.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Listen binds addr ("127.0.0.1:0" picks a free port). Only loopback
// addresses are accepted unless the platform was opened with AllowRemote.
func Listen(p *Platform, addr string) (*Server, error) {
	if !p.allowRemote && !loopbackListen(addr) {
		return nil, fmt.Errorf("%w: %q is not a loopback address (allow remote clients explicitly to listen on it)", ErrOptions, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: listen: %v", ErrOptions, err)
	}
	return &Server{
		ln:  ln,
		log: p.log,
		srv: &http.Server{
			Handler:           p.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       time.Minute,
			ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		},
	}, nil
}

func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false // an empty host listens on every interface
	}
	return loopback.Host(host)
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the base URL of the bound address, for agents' configuration.
func (s *Server) URL() string {
	return "http://" + s.ln.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully: in-flight
// requests finish, new ones are refused. It returns nil after a graceful
// shutdown.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("serving", "addr", s.ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("stopped")
	return nil
}
