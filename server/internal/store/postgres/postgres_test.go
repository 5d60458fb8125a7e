package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/storetest"
	"github.com/steward-project/steward/shared/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openTest(t *testing.T, dsn string) *Store {
	t.Helper()
	st, err := Open(t.Context(), dsn, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, pgtest.NewDatabase(t))
	})
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	// Servers starting together migrate one database at once.
	var wg sync.WaitGroup
	for i := range 4 {
		st := openTest(t, dsn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := st.Migrate(ctx); err != nil {
				t.Errorf("migrator %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	st := openTest(t, dsn)
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, f.Name())
	}
	rows, _ := st.pool.Query(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %q, want every file once: %q", got, want)
	}
}

func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	cases := []struct {
		name, dsn, want string
	}{
		{"nothing listening", fmt.Sprintf("postgres://steward:secretpw@127.0.0.1:%d/steward?sslmode=disable", port), "unreachable"},
		{"malformed", "postgres://steward:secretpw@127.0.0.1:notaport/x", "invalid connection string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			st, err := Open(t.Context(), c.dsn, nil)
			if err == nil {
				st.Close()
				t.Fatal("open succeeded")
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error %q: want %q and no password", err, c.want)
			}
			if d := time.Since(start); d > openTimeout+2*time.Second {
				t.Errorf("open took %v", d)
			}
		})
	}
}

// TestDatabaseGoesAway pins that the store reports a stopped server and
// recovers by itself once it is back, without being reopened.
func TestDatabaseGoesAway(t *testing.T) {
	ctx := t.Context()
	c := pgtest.NewCluster(t)
	st := openTest(t, c.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "k", Hostname: "h", EnrolledAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(ctx); err == nil {
		t.Error("ping succeeded with the server stopped")
	}
	hb := []store.Message{{HostID: id, Seq: 1, Type: wire.TypeHeartbeat, Received: time.Now()}}
	if _, err := st.ApplyBatch(ctx, hb); err == nil {
		t.Error("apply batch succeeded with the server stopped")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Errorf("ping after restart: %v", err)
	}
	if _, err := st.ApplyBatch(ctx, hb); err != nil {
		t.Errorf("apply batch after restart: %v", err)
	}
}

// TestQueryPlans pins that paging and software search walk indexes on a
// fleet large enough for the planner to care: 5,000 hosts with 40
// packages each, one package in five versions.
func TestQueryPlans(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `
		INSERT INTO hosts (node_key_hash, hostname, enrolled_at)
			SELECT 'k' || g, 'host-' || g, now() FROM generate_series(1, 5000) g;
		INSERT INTO software (name, version, source)
			SELECT 'pkg' || g, '1', 'dpkg' FROM generate_series(1, 40) g;
		INSERT INTO software (name, version, source)
			SELECT 'pkg1', v::text, 'dpkg' FROM generate_series(2, 5) v;
		INSERT INTO host_software (host_id, software_id)
			SELECT h.id, s.id FROM hosts h CROSS JOIN software s WHERE s.version = '1' OR h.id % 4 = 0;
		UPDATE hosts SET hardware_uuid = 'uuid-' || (id % 2500), machine_id = 'machine-' || id;
		INSERT INTO host_changes (host_id, kind, subject, first_seen, seq)
			SELECT h.id, (ARRAY['software_installed', 'software_removed', 'port_opened', 'user_added'])[1 + g % 4],
				'pkg' || g, now() - g * interval '1 minute', g
			FROM hosts h CROSS JOIN generate_series(1, 20) g;
		ANALYZE`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		query string
		args  []any
	}{
		{"search catalog by name", catalogExactSQL, []any{"pkg1"}},
		{"search a page of one catalog row", searchLinksSQL, []any{int64(1), int64(0), 100}},
		{"search a later page of one catalog row", searchLinksSQL, []any{int64(1), int64(2500), 100}},
		{"list hosts after", fmt.Sprintf(listHostsAfterSQL, "true"), []any{"host-2", int64(2), 100}},
		{"list duplicate hosts after", fmt.Sprintf(listHostsAfterSQL, hasDuplicates), []any{"host-2", int64(2), 100}},
		changePlan("changes of one host", store.ChangeQuery{HostID: 7}),
		changePlan("changes of one host, later page", store.ChangeQuery{HostID: 7, AfterFirstSeen: time.Now().Add(-time.Hour), AfterID: 9}),
		changePlan("changes of one host and kind", store.ChangeQuery{HostID: 7, Kinds: []string{"port_opened"}}),
		changePlan("changes of one kind", store.ChangeQuery{Kinds: []string{"user_added"}, Since: time.Now().Add(-time.Hour)}),
		changePlan("changes of the fleet", store.ChangeQuery{Until: time.Now().Add(-10 * time.Minute)}),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, _ := st.pool.Query(ctx, "EXPLAIN "+c.query, c.args...)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(withoutEmptyPartitions(t, st, lines), "\n")
			bads := []string{"Seq Scan on host_software", "Seq Scan on hosts", "Bitmap Heap Scan on host_software",
				"Seq Scan on host_changes"}
			if strings.HasPrefix(c.name, "changes of the fleet") || strings.HasPrefix(c.name, "changes of one kind") {
				// A host's changes are few enough to sort; the fleet's
				// must come out of an index in order.
				bads = append(bads, "Sort")
			}
			for _, bad := range bads {
				if strings.Contains(plan, bad) {
					t.Errorf("plan has %q:\n%s", bad, plan)
				}
			}
		})
	}
}

// changePlan is a plan case for ListChanges' statement.
func changePlan(name string, q store.ChangeQuery) struct {
	name  string
	query string
	args  []any
} {
	query, args := changeQuery(q)
	return struct {
		name  string
		query string
		args  []any
	}{name, query, args}
}

func BenchmarkApplyBatch(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		st, err := Open(b.Context(), pgtest.NewDatabase(b), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	})
}

func BenchmarkResults(b *testing.B) {
	storetest.BenchmarkResults(b, func(b *testing.B) store.Store {
		st, err := Open(b.Context(), pgtest.NewDatabase(b), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	})
}

func TestEvaluationLock(t *testing.T) {
	st := openTest(t, pgtest.NewDatabase(t))
	release, err := st.LockEvaluation(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A second holder (another replica) waits while the lock is held.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if r2, err := st.LockEvaluation(ctx); err == nil {
		r2()
		t.Fatal("the evaluation lock was granted twice")
	}
	release()
	r3, err := st.LockEvaluation(t.Context())
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	r3()
}
