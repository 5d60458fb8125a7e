package transport

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrSecretRefused means the server answered enrollment with 401: the
// enroll secret is unknown or revoked. An admin can fix it server-side, so
// callers keep retrying.
var ErrSecretRefused = errors.New("enroll secret refused by server")

// ErrNodeKeyRejected means the server answered the WebSocket dial with 401:
// it does not know the node key (host deleted, database reset).
var ErrNodeKeyRejected = errors.New("node key refused by server")

// StatusError is a non-success HTTP answer to an enroll or dial request.
type StatusError struct {
	Op         string // "enroll" or "dial"
	StatusCode int
	Message    string        // the body's "error" field, or its first line
	RetryAfter time.Duration // from Retry-After; 0 when absent
	Err        error         // ErrSecretRefused or ErrNodeKeyRejected for 401
}

func (e *StatusError) Error() string {
	reason := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.Err != nil {
		reason = fmt.Sprintf("%v (HTTP %d)", e.Err, e.StatusCode)
	}
	if e.Message != "" {
		reason += ": " + e.Message
	}
	return e.Op + ": " + reason
}

func (e *StatusError) Unwrap() error { return e.Err }

// RetryAfter returns the wait the server asked for with err, or 0.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// A malformed or past value yields 0, leaving the caller's backoff in charge.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Cap before multiplying so an absurd value cannot overflow.
		const maxSecs = int64(24 * time.Hour / time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}
