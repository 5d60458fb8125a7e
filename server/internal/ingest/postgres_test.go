package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/shared/wire"
)

// countingSink counts the transactions ingest tries.
type countingSink struct {
	ingest.Sink
	attempts atomic.Int64
}

func (s *countingSink) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	s.attempts.Add(1)
	return s.Sink.ApplyBatch(ctx, msgs)
}

// results collects Done outcomes for one round of messages.
type results struct {
	mu   sync.Mutex
	got  map[string]error
	dup  map[string]bool
	all  chan struct{}
	want int
}

func newResults(want int) *results {
	return &results{got: map[string]error{}, dup: map[string]bool{}, all: make(chan struct{}), want: want}
}

func (r *results) done(key string) ingest.Done {
	return func(res store.Result, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got[key] = err
		r.dup[key] = res.Duplicate
		if len(r.got) == r.want {
			close(r.all)
		}
	}
}

type pgFixture struct {
	cluster *pgtest.Cluster
	dbName  string
	st      *postgres.Store
	sink    *countingSink
	hosts   []int64
	// probeFailed and probeOK receive a token when a probe fails and
	// when one reaches the database (the first of each, until read).
	probeFailed, probeOK chan struct{}
	b                    *ingest.Batcher
}

func newPGFixture(t *testing.T) *pgFixture {
	t.Helper()
	ctx := t.Context()
	c := pgtest.NewCluster(t)
	dsn := c.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(ctx, dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &pgFixture{cluster: c, dbName: strings.TrimPrefix(u.Path, "/"), st: st, sink: &countingSink{Sink: st},
		probeFailed: make(chan struct{}, 1), probeOK: make(chan struct{}, 1)}
	for i := range 4 {
		id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("key-%d", i), Hostname: "h", EnrolledAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		f.hosts = append(f.hosts, id)
	}
	f.b = ingest.New(f.sink, ingest.Config{Writers: 1, ProbeInterval: 200 * time.Millisecond,
		Probe: func(ctx context.Context) error {
			err := st.Ping(ctx)
			note := f.probeOK
			if err != nil {
				note = f.probeFailed
			}
			select {
			case note <- struct{}{}:
			default: // one token is enough
			}
			return err
		}})
	t.Cleanup(f.b.Stop)
	return f
}

// submitRound sends seqs 1..perHost of a heartbeat for every host and
// returns the outcomes once all are done. Messages Submit refuses are
// reported under their key too.
func (f *pgFixture) submitRound(t *testing.T, perHost int) *results {
	t.Helper()
	r := newResults(perHost * len(f.hosts))
	for seq := 1; seq <= perHost; seq++ {
		for _, h := range f.hosts {
			key := fmt.Sprintf("%d/%d", h, seq)
			msg := store.Message{HostID: h, Seq: uint64(seq), Type: wire.TypeHeartbeat, Received: time.Now()}
			if err := f.b.Submit(t.Context(), msg, r.done(key)); err != nil {
				r.done(key)(store.Result{}, err)
			}
		}
	}
	<-r.all
	return r
}

// waitReady waits for a probe that reached the database, then for the
// batcher to take data again.
func (f *pgFixture) waitReady(t *testing.T) {
	t.Helper()
	<-f.probeOK
	for f.b.Unavailable() != nil {
		// The probe's success is recorded right after it returned.
		time.Sleep(time.Millisecond)
	}
}

// resendCommitsOnce: after an outage, sending every message again
// commits each exactly once, and a further round is all duplicates.
func (f *pgFixture) resendCommitsOnce(t *testing.T, perHost int) {
	t.Helper()
	r := f.submitRound(t, perHost)
	for k, err := range r.got {
		if err != nil || r.dup[k] {
			t.Errorf("resent %s: err %v, duplicate %v; want committed now", k, err, r.dup[k])
		}
	}
	r = f.submitRound(t, perHost)
	for k, err := range r.got {
		if err != nil || !r.dup[k] {
			t.Errorf("sent %s again: err %v, duplicate %v; want an already applied duplicate", k, err, r.dup[k])
		}
	}
}

// TestStoppedDatabaseFailsFastAndRecovers: with the PostgreSQL server
// stopped, the first transaction fails, every queued message fails with
// ErrUnavailable without a transaction of its own, the batcher stays
// unavailable while the probe cannot reach the server, and takes data
// again once it is back; the messages sent again commit once.
func TestStoppedDatabaseFailsFastAndRecovers(t *testing.T) {
	const perHost = 30
	f := newPGFixture(t)
	if err := f.cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	r := f.submitRound(t, perHost)
	for k, err := range r.got {
		if !errors.Is(err, ingest.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", k, err)
		}
	}
	if n := f.sink.attempts.Load(); n > 2 {
		t.Errorf("%d transactions tried for %d messages with the database down, want 1 or 2", n, len(r.got))
	}
	<-f.probeFailed
	if f.b.Unavailable() == nil {
		t.Fatal("ready with the database down")
	}
	if err := f.cluster.Start(); err != nil {
		t.Fatal(err)
	}
	f.waitReady(t)
	f.resendCommitsOnce(t, perHost)
}

// TestHungStatementFailsFast: a batch blocked behind a lock another
// connection holds, whose backend the server then terminates, fails
// as a whole at once, marks the batcher unavailable until a probe
// succeeds, and nothing of it was committed: resending commits it once.
func TestHungStatementFailsFast(t *testing.T) {
	const perHost = 20
	f := newPGFixture(t)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, f.cluster.DSN(f.dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE hosts IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	round := make(chan *results)
	go func() { round <- f.submitRound(t, perHost) }()
	// Wait for the batch to block on the lock, then end its backend as an
	// operator or a failover would.
	watcher, err := pgx.Connect(ctx, f.cluster.ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(context.Background())
	var pid int
	for pid == 0 {
		err := watcher.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND datname = $1 LIMIT 1`, f.dbName).Scan(&pid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
	}
	if _, err := watcher.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-round
	for k, err := range r.got {
		if !errors.Is(err, ingest.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", k, err)
		}
	}
	if n := f.sink.attempts.Load(); n > 2 {
		t.Errorf("%d transactions tried for %d messages, want 1 or 2: a failed batch was split", n, len(r.got))
	}
	f.waitReady(t)
	f.resendCommitsOnce(t, perHost)
}

// TestShutdownWithHungDatabase: with a transaction blocked behind a lock
// and a queue full behind it, Shutdown returns as soon as its context
// ends, acknowledging nothing; the lock is released only afterwards, so a
// Shutdown that waited for the database would never return. Nothing of
// the round was committed: a new batcher commits all of it once.
func TestShutdownWithHungDatabase(t *testing.T) {
	const perHost = 500
	f := newPGFixture(t)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, f.cluster.DSN(f.dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE hosts IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	round := make(chan *results)
	go func() { round <- f.submitRound(t, perHost) }()
	f.waitBlocked(t)
	sctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- f.b.Shutdown(sctx) }()
	cancel() // the shutdown deadline passes
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want its context's error", err)
	}
	r := <-round
	for k, err := range r.got {
		if err == nil {
			t.Fatalf("%s acknowledged by a shutdown that committed nothing", k)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	f.b = ingest.New(f.st, ingest.Config{Writers: 1})
	t.Cleanup(f.b.Stop)
	f.resendCommitsOnce(t, perHost)
}

// waitBlocked waits until a statement of the test's database waits for
// a lock.
func (f *pgFixture) waitBlocked(t *testing.T) {
	t.Helper()
	watcher, err := pgx.Connect(t.Context(), f.cluster.ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(context.Background())
	for {
		var n int
		err := watcher.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND datname = $1`, f.dbName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
}
