package metrics

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var poolSeries = []string{"steward_db_connections", "steward_db_max_connections", "steward_db_acquires_total",
	"steward_db_acquire_waits_total", "steward_db_acquire_wait_seconds_total"}

// TestPoolCollector: every scrape reads the pool anew and exports its
// numbers under the documented names and types.
func TestPoolCollector(t *testing.T) {
	m := New("test")
	var reads atomic.Int64
	m.RegisterPool(func() PoolStats {
		n := reads.Add(1)
		return PoolStats{MaxConns: 8, InUse: 3, Idle: 5, Acquires: 100 * n, HasAcquires: true,
			AcquireWaits: 4, AcquireWait: 1500 * time.Millisecond}
	})
	want := `
# HELP steward_db_acquire_wait_seconds_total Time connection requests spent waiting for a connection.
# TYPE steward_db_acquire_wait_seconds_total counter
steward_db_acquire_wait_seconds_total 1.5
# HELP steward_db_acquire_waits_total Connection requests that found no connection free and waited.
# TYPE steward_db_acquire_waits_total counter
steward_db_acquire_waits_total 4
# HELP steward_db_acquires_total Connections the pool handed out; absent when the pool does not count them (SQLite's database/sql).
# TYPE steward_db_acquires_total counter
steward_db_acquires_total 100
# HELP steward_db_connections Open database connections by state: in_use (handed out) or idle (waiting in the pool).
# TYPE steward_db_connections gauge
steward_db_connections{state="idle"} 5
steward_db_connections{state="in_use"} 3
# HELP steward_db_max_connections The most database connections the server opens at once.
# TYPE steward_db_max_connections gauge
steward_db_max_connections 8
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), poolSeries...); err != nil {
		t.Fatal(err)
	}
	// The next scrape reads again: the counter moved.
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(strings.Replace(want,
		"steward_db_acquires_total 100", "steward_db_acquires_total 200", 1)), poolSeries...); err != nil {
		t.Fatal(err)
	}
}

// TestPoolCollectorWithoutAcquires: a pool that does not count
// acquisitions has no acquires series rather than a false 0.
func TestPoolCollectorWithoutAcquires(t *testing.T) {
	m := New("test")
	m.RegisterPool(func() PoolStats { return PoolStats{MaxConns: 5, Idle: 1} })
	n, err := testutil.GatherAndCount(m.Registry, poolSeries...)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 { // two connection states, max, waits, wait seconds
		t.Errorf("%d pool series, want 5", n)
	}
	if n, _ := testutil.GatherAndCount(m.Registry, "steward_db_acquires_total"); n != 0 {
		t.Error("steward_db_acquires_total exported for a pool that does not count acquisitions")
	}
}
