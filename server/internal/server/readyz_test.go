package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeIngest is an ingestHealth with settable answers.
type fakeIngest struct {
	down        error
	failures    int64
	lastFailure time.Time
}

func (f *fakeIngest) Unavailable() error         { return f.down }
func (f *fakeIngest) ConsecutiveFailures() int64 { return f.failures }
func (f *fakeIngest) LastFailure() time.Time     { return f.lastFailure }

func TestReadyz(t *testing.T) {
	refused := errors.New("connection refused")
	cases := []struct {
		name   string
		ingest fakeIngest
		ping   error
		want   int
	}{
		{"ready", fakeIngest{}, nil, http.StatusOK},
		// The database answers pings again, but ingest's own probe has
		// not reached it yet: still not ready.
		{"ingest unavailable", fakeIngest{down: refused}, nil, http.StatusServiceUnavailable},
		{"commits failing", fakeIngest{failures: 3, lastFailure: time.Now()}, nil, http.StatusServiceUnavailable},
		{"old commit failures", fakeIngest{failures: 3, lastFailure: time.Now().Add(-2 * failedCommitsExpire)}, nil, http.StatusOK},
		{"ping fails", fakeIngest{}, refused, http.StatusServiceUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rz := readyz{ingest: &c.ingest, commitFailures: 3, log: slog.New(slog.DiscardHandler),
				ping: func(context.Context) error { return c.ping }}
			rec := httptest.NewRecorder()
			rz.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != c.want {
				t.Errorf("HTTP %d (%s), want %d", rec.Code, rec.Body, c.want)
			}
		})
	}
}
