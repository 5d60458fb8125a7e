package postgres

import (
	"net/url"
	"testing"

	"github.com/steward-project/steward/server/internal/pgtest"
)

// TestPoolStats: connections handed out, idle and the most allowed come
// from the pool, and an acquisition that has to connect first counts as
// a wait, with its time.
func TestPoolStats(t *testing.T) {
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "2")
	u.RawQuery = q.Encode()
	st := openTest(t, u.String()) // Open's ping leaves one idle connection
	ctx := t.Context()
	before := st.PoolStats()
	if before.MaxConns != 2 || before.InUse != 0 || before.Idle != 1 || !before.HasAcquires {
		t.Fatalf("after open: %+v; want max 2, 1 idle, acquisitions counted", before)
	}
	first, err := st.pool.Acquire(ctx) // the idle one: no wait
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	mid := st.PoolStats()
	if mid.InUse != 1 || mid.Idle != 0 || mid.Acquires != before.Acquires+1 || mid.AcquireWaits != before.AcquireWaits {
		t.Fatalf("one held: %+v, before %+v; want 1 in use, one more acquisition, no more waits", mid, before)
	}
	second, err := st.pool.Acquire(ctx) // none idle: waits for a new connection
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	after := st.PoolStats()
	if after.InUse != 2 || after.Acquires != mid.Acquires+1 || after.AcquireWaits != mid.AcquireWaits+1 ||
		after.AcquireWait <= mid.AcquireWait {
		t.Fatalf("two held: %+v, before %+v; want 2 in use and one more acquisition that waited", after, mid)
	}
}

// TestPoolFor: the pool is sized for everything that shares it, never
// below MinConns, and a pool_max_conns in the connection string wins.
func TestPoolFor(t *testing.T) {
	users := PoolUsers{IngestWriters: 4, ResultWriters: 4, Evaluator: 1, AlertWorkers: 4, Background: 2, API: 4}
	if got := users.Conns(); got != 19 {
		t.Errorf("conns for %+v = %d, want 19", users, got)
	}
	if got := (PoolUsers{API: 1}).Conns(); got != MinConns {
		t.Errorf("conns for one API user = %d, want %d", got, MinConns)
	}
	dsn := pgtest.NewDatabase(t)
	st, err := Open(t.Context(), dsn, nil, WithPoolFor(users))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := st.PoolStats().MaxConns; got != 19 {
		t.Errorf("pool of %+v: max %d connections, want 19", users, got)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	set, err := Open(t.Context(), u.String(), nil, WithPoolFor(users))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if got := set.PoolStats().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 in the URL: max %d connections, want 3", got)
	}
}
