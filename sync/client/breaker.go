package client

import (
	"sync"
	"time"
)

// breaker is the client's circuit breaker: after a run of failed requests
// it opens, and requests fail at once without touching the network until
// a cool-down has passed; then one probe is let through, and its outcome
// closes the breaker or opens it again. An outage then costs the kiosk no
// waiting and the recovering platform no storm of retries from every
// terminal.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time // zero: closed
	probing   bool
}

// allow reports whether a request may go out now; a half-open breaker
// lets exactly one through.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true
	case now.Before(b.openUntil) || b.probing:
		return false
	default:
		b.probing = true
		return true
	}
}

// available reports whether a request would be allowed, without claiming
// the probe.
func (b *breaker) available(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.openUntil.IsZero() || (!now.Before(b.openUntil) && !b.probing)
}

// result records a request's outcome: reached is false when the platform
// could not be reached (or did not answer). It reports whether the
// breaker changed between open and closed.
func (b *breaker) result(now time.Time, reached bool) (changed, open bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wasOpen := !b.openUntil.IsZero()
	b.probing = false
	if reached {
		b.failures, b.openUntil = 0, time.Time{}
		return wasOpen, false
	}
	b.failures++
	if wasOpen || b.failures >= b.threshold {
		b.openUntil = now.Add(b.cooldown)
		return !wasOpen, true
	}
	return false, false
}

// retry ends the cool-down now: the next request is the probe.
func (b *breaker) retry() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.openUntil.IsZero() && !b.probing {
		b.openUntil = time.Unix(0, 0)
	}
}
