package agent

import (
	"context"
	"fmt"
	"time"
)

// trustValue is the journal value holding the trust list last fetched.
const trustValue = "trust"

// RunTrustRefresh keeps the credential trust list (E001) fresh for offline
// verification of signed codes: the list last fetched is applied at start
// (so that a terminal started during an outage still verifies), then the
// platform is asked at start and every ten minutes, with backoff while it
// is unreachable. apply installs a list in the verifier; it refuses one
// older than the list in use.
func (s *Service) RunTrustRefresh(ctx context.Context, apply func(raw []byte) error) error {
	if raw, err := s.journal.Value(ctx, trustValue); err == nil {
		if err := apply(raw); err != nil {
			s.log.Warn("stored trust list not applied", "err", err)
		}
	}
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.clock.After(wait):
		}
		raw, err := s.fetchTrustList(ctx)
		if err == nil {
			err = apply(raw)
		}
		if err == nil {
			err = s.journal.SetValue(ctx, trustValue, raw)
		}
		if err != nil {
			wait = min(2*wait+5*time.Second, 10*time.Minute)
			s.log.Warn("trust list not refreshed", "err", err, "retry_in", wait)
			continue
		}
		wait = 10 * time.Minute
	}
}

func (s *Service) fetchTrustList(ctx context.Context) ([]byte, error) {
	x, err := s.ownExchange(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := s.insurance.TrustList(ctx, x, 0)
	if err != nil {
		return nil, fmt.Errorf("fetch trust list: %w", err)
	}
	return raw, nil
}
