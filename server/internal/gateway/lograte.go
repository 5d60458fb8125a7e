package gateway

import (
	"log/slog"
	"sync"
	"time"
)

// logEvery is the least time between two warnings of one kind.
const logEvery = time.Second

// rateLimitedLog lets one warning through per logEvery and counts the
// ones it holds back, so that a network failure cutting off a thousand
// agents at once writes a line a second rather than a thousand.
type rateLimitedLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
	now        func() time.Time // time.Now unless a test sets it
}

func (r *rateLimitedLog) warn(log *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	if !r.last.IsZero() && now.Sub(r.last) < logEvery {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed_since_last", n)
	}
	log.Warn(msg, args...)
}
