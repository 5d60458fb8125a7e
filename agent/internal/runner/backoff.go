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

// spreadRetry turns the server's Retry-After d into a wait of d × f with
// f = 1 + r in [1, 2) (r in [0, 1)): never sooner than the server asked,
// and spread over the whole next window, so that the agents of an outage
// do not hit the recovering server all at once.
func spreadRetry(d time.Duration, r float64) time.Duration {
	return d + time.Duration(r*float64(d))
}

// jitter spreads d by ±10 % (r in [0, 1)) so that agents started together
// do not collect and report in lockstep.
func jitter(d time.Duration, r float64) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*r))
}
