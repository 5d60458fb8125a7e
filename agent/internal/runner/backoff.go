package runner

import "time"

const (
	backoffBase = time.Second
	backoffMax  = 5 * time.Minute
	// stableAfter is how long a welcomed connection must last before the
	// failure count starts over.
	stableAfter = time.Minute
)

// backoff is the wait after the n-th consecutive failure (n ≥ 1): full
// jitter, r·min(5 min, 1 s·2ⁿ) with r in [0, 1). Full jitter spreads a fleet
// that lost its server at the same moment over the whole window.
func backoff(n int, r float64) time.Duration {
	limit := backoffMax
	// 2^9 s already exceeds the cap; stop shifting before it overflows.
	if n < 9 {
		limit = min(backoffMax, backoffBase<<max(n, 0))
	}
	return time.Duration(r * float64(limit))
}

// spreadRetry turns the server's Retry-After d into a wait in
// [d, 1.5 d) (r in [0, 1)): never sooner than the server asked, but not
// every agent of an outage in the same instant either, which would hit
// the recovering server with the whole fleet at once.
func spreadRetry(d time.Duration, r float64) time.Duration {
	return d + time.Duration(0.5*r*float64(d))
}

// jitter spreads d by ±10 % (r in [0, 1)) so that agents started together
// do not collect and report in lockstep.
func jitter(d time.Duration, r float64) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*r))
}
