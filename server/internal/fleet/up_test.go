package fleet

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/server/internal/store/sqlite"
)

// eventually polls cond until it holds; the bound only keeps a broken
// test from hanging, it measures nothing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

// runLoop runs the fleet loop on st until the test ends.
func runLoop(t *testing.T, st Store, m *metrics.Metrics) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Store: st, Metrics: m, Interval: 20 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func storeUp(m *metrics.Metrics) func() bool {
	return func() bool { return testutil.ToFloat64(m.StoreUp) == 1 }
}

func storeDown(m *metrics.Metrics) func() bool {
	return func() bool { return testutil.ToFloat64(m.StoreUp) == 0 }
}

// TestStoreUpSQLite: steward_store_up is 1 while the store answers and
// drops to 0 once its database is gone (here, closed under the loop).
func TestStoreUpSQLite(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	runLoop(t, st, m)
	eventually(t, "steward_store_up 1", storeUp(m))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "steward_store_up 0 after the store closed", storeDown(m))
}

// TestStoreUpPostgres: stopping the PostgreSQL server takes
// steward_store_up to 0, and starting it again back to 1 as the pool
// reconnects.
func TestStoreUpPostgres(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	st, err := postgres.Open(t.Context(), cluster.DSN("postgres"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	runLoop(t, st, m)
	eventually(t, "steward_store_up 1", storeUp(m))
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "steward_store_up 0 with the server stopped", storeDown(m))
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "steward_store_up 1 with the server back", storeUp(m))
}

// TestPingLeavesGaugeWhenCanceled: a ping cut short by the caller's end
// (the server stopping) says nothing about the database.
func TestPingLeavesGaugeWhenCanceled(t *testing.T) {
	m := metrics.New("test")
	m.StoreUp.Set(1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Ping(ctx, Config{Store: pingOnly{ping: func(ctx context.Context) error { return ctx.Err() }}, Metrics: m})
	if err == nil || testutil.ToFloat64(m.StoreUp) != 1 {
		t.Fatalf("canceled ping: err %v, steward_store_up %v; want an error and 1 kept", err, testutil.ToFloat64(m.StoreUp))
	}
	err = Ping(t.Context(), Config{Store: pingOnly{ping: func(context.Context) error { return errors.New("refused") }}, Metrics: m})
	if err == nil || testutil.ToFloat64(m.StoreUp) != 0 {
		t.Fatalf("failed ping: err %v, steward_store_up %v; want an error and 0", err, testutil.ToFloat64(m.StoreUp))
	}
}

// pingOnly is a Store that only pings; the gauges' reads (the embedded,
// nil Store) are not called by Ping.
type pingOnly struct {
	Store
	ping func(ctx context.Context) error
}

func (p pingOnly) Ping(ctx context.Context) error { return p.ping(ctx) }
