package limits

import (
	"fmt"
	"math"
	"time"
)

// Rate is the shape of a token bucket: it holds at most Burst tokens and
// gains PerMinute tokens a minute. A full bucket lets Burst events through
// at once; after that, events pass at the refill rate.
type Rate struct {
	Burst     int
	PerMinute float64
}

// Validate reports a rate that cannot work, naming it as name.
func (r Rate) Validate(name string) error {
	if r.Burst < 1 {
		return fmt.Errorf("%s.burst %d: must be at least 1", name, r.Burst)
	}
	if !(r.PerMinute > 0) || math.IsInf(r.PerMinute, 0) {
		return fmt.Errorf("%s.per_minute %v: must be a number above 0", name, r.PerMinute)
	}
	return nil
}

func (r Rate) perSecond() float64 { return r.PerMinute / 60 }

// refillTime is how long an empty bucket takes to fill up. A bucket not
// touched for that long is full, the same as one never created, so it can
// be dropped without changing any decision.
func (r Rate) refillTime() time.Duration {
	return time.Duration(float64(r.Burst) / r.perSecond() * float64(time.Second))
}

// bucket is a token bucket. Its zero value is full.
type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date; zero: full
}

// update adds the tokens earned since the last update.
func (b *bucket) update(r Rate, now time.Time) {
	if b.at.IsZero() {
		b.tokens, b.at = float64(r.Burst), now
		return
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(r.Burst), b.tokens+d.Seconds()*r.perSecond())
		b.at = now
	}
}

// has reports whether a token is there, without taking it.
func (b *bucket) has(r Rate, now time.Time) bool {
	b.update(r, now)
	return b.tokens >= 1
}

// take removes a token if there is one and reports whether there was.
func (b *bucket) take(r Rate, now time.Time) bool {
	if !b.has(r, now) {
		return false
	}
	b.tokens--
	return true
}

// spend removes a token whether or not one is there; the bucket does not
// go below empty.
func (b *bucket) spend(r Rate, now time.Time) {
	b.update(r, now)
	b.tokens = max(0, b.tokens-1)
}

// wait is how long until the bucket holds a token again.
func (b *bucket) wait(r Rate) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / r.perSecond() * float64(time.Second))
}

// retryAfterSeconds turns a wait into a Retry-After value: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
