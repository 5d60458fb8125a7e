package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// failedCommitsExpire is how long failed ingest commits keep /readyz at
// 503 when no commit is tried after them.
const failedCommitsExpire = time.Minute

// ingestHealth is what /readyz asks ingest; ingest.Batcher is one.
type ingestHealth interface {
	Unavailable() error
	ConsecutiveFailures() int64
	LastFailure() time.Time
}

// readyz answers /readyz: 200 while agents' data can be committed.
type readyz struct {
	ingest ingestHealth
	ping   func(context.Context) error
	// commitFailures is readiness.commit_failures (0: not checked).
	commitFailures int
	log            *slog.Logger
}

func (rz readyz) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A commit that failed for the database (not for a message) keeps
	// ingest refusing data until its own probe reaches the database.
	if err := rz.ingest.Unavailable(); err != nil {
		rz.log.Warn("readiness check failed", "err", err)
		http.Error(w, "database unavailable: agent data refused until it answers", http.StatusServiceUnavailable)
		return
	}
	// A database that answers pings but refuses every write (a full
	// disk) is not ready either, until a commit succeeds. Failures
	// older than failedCommitsExpire no longer count: a server taken
	// out of rotation gets no agents, so no commit, and would stay
	// out for good.
	if n, limit := rz.ingest.ConsecutiveFailures(), rz.commitFailures; limit > 0 && n >= int64(limit) &&
		time.Since(rz.ingest.LastFailure()) < failedCommitsExpire {
		rz.log.Warn("readiness check failed", "consecutive_failed_commits", n)
		http.Error(w, fmt.Sprintf("the last %d ingest commits failed", n), http.StatusServiceUnavailable)
		return
	}
	pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := rz.ping(pctx); err != nil {
		rz.log.Warn("readiness check failed", "err", err)
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}
