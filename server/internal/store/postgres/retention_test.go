package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
)

// withoutEmptyPartitions drops the plan lines that scan a partition
// holding no rows. The partitioned histories always have some (the months
// ahead, the partitions before the first and after the last month), and
// the planner reads an empty table whole because that costs nothing; the
// plan tests are about the partitions that hold the rows.
func withoutEmptyPartitions(t *testing.T, st *Store, lines []string) []string {
	t.Helper()
	rows, _ := st.pool.Query(t.Context(), `SELECT relname::text FROM pg_class WHERE relispartition AND relkind = 'r' AND reltuples = 0`)
	empty, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(slices.Clone(lines), func(line string) bool {
		return slices.ContainsFunc(empty, func(name string) bool { return strings.Contains(line, " on "+name+" ") })
	})
}

func partitionNames(t *testing.T, st *Store, table string) []string {
	t.Helper()
	p, err := st.listPartitions(t.Context(), table)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{p.old}
	for _, m := range p.months {
		names = append(names, m.name)
	}
	return append(names, p.future)
}

// TestPartitionsDropped pins that pruning a partitioned history drops the
// months past the cutoff instead of deleting their rows, keeps the
// partitions contiguous, and that the months ahead follow the clock.
func TestPartitionsDropped(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	name := func(months int) string { return "host_changes_p" + m.AddDate(0, months, 0).Format("200601") }
	want := []string{"host_changes_old", name(0), name(1), name(2), "host_changes_future"}
	if got := partitionNames(t, st, "host_changes"); !slices.Equal(got, want) {
		t.Fatalf("partitions after migrating %q, want %q", got, want)
	}
	if _, err := st.pool.Exec(ctx, `INSERT INTO hosts (node_key_hash, hostname, enrolled_at) VALUES ('k', 'h', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `INSERT INTO host_changes (host_id, kind, first_seen, seq)
		SELECT 1, 'software_installed', $1::timestamptz + g * interval '1 hour', g FROM generate_series(0, 999) g`, m); err != nil {
		t.Fatal(err)
	}
	// Three months on, the job creates the months up to two ahead again.
	if err := st.EnsurePartitions(ctx, m.AddDate(0, 3, 0)); err != nil {
		t.Fatal(err)
	}
	cutoff := m.AddDate(0, 1, 3)
	n, err := st.PruneHistory(ctx, store.HistoryChanges, cutoff, 10)
	if err != nil {
		t.Fatal(err)
	}
	var left, older int64
	if err := st.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE first_seen < $1) FROM host_changes`, cutoff).Scan(&left, &older); err != nil {
		t.Fatal(err)
	}
	// The first month went whole (31 days at most: 744 rows or fewer),
	// then one batch of 10 from the month that straddles the cutoff.
	monthRows := int64(m.AddDate(0, 1, 0).Sub(m) / time.Hour)
	if n != monthRows+10 || left != 1000-n || older != 72-10 {
		t.Errorf("pruned %d, left %d (%d older than the cutoff); want %d, %d, %d", n, left, older, monthRows+10, 1000-monthRows-10, 62)
	}
	want = []string{"host_changes_old", name(1), name(2), name(3), name(4), name(5), "host_changes_future"}
	if got := partitionNames(t, st, "host_changes"); !slices.Equal(got, want) {
		t.Errorf("partitions after pruning %q, want %q", got, want)
	}
	// Rows older than every month still go in, into the old partition.
	if _, err := st.pool.Exec(ctx, `INSERT INTO host_changes (host_id, kind, first_seen, seq) VALUES (1, 'x', $1, 1)`, m); err != nil {
		t.Errorf("insert before the first month: %v", err)
	}
}

// TestRetentionLockExclusive pins that a second holder is refused while
// the lock is held, as another server sharing the database would be.
func TestRetentionLockExclusive(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	a, b := openTest(t, dsn), openTest(t, dsn)
	release, ok, err := a.TryLockRetention(ctx)
	if err != nil || !ok {
		t.Fatalf("first lock: ok %v, err %v", ok, err)
	}
	if _, ok, err := b.TryLockRetention(ctx); err != nil || ok {
		t.Errorf("second lock while held: ok %v, err %v; want refused", ok, err)
	}
	release()
	release, ok, err = b.TryLockRetention(context.WithoutCancel(ctx))
	if err != nil || !ok {
		t.Fatalf("lock after release: ok %v, err %v", ok, err)
	}
	release()
}

// TestMigratePartitionsExisting pins that migration 0017 keeps the rows
// of a database that had history before it: the same rows read back, ids
// continue after the highest, and months exist from the oldest row on.
func TestMigratePartitionsExisting(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	ms, err := store.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= 17 {
			break
		}
		if _, err := st.pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := st.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO hosts (node_key_hash, hostname, enrolled_at) VALUES ('k', 'h', now())`,
		`INSERT INTO policies (id, body, title, severity, created_at, updated_at, updated_revision) VALUES ('p', '{}', 'P', 'high', now(), now(), 1)`,
		// Five months back to now, plus one row from long ago.
		`INSERT INTO host_changes (host_id, kind, first_seen, seq)
			SELECT 1, 'software_installed', now() - g * interval '1 day', g FROM generate_series(0, 150) g`,
		`INSERT INTO host_changes (host_id, kind, first_seen, seq) VALUES (1, 'software_installed', '2001-01-01', 1)`,
		`INSERT INTO result_transitions (host_id, policy_id, to_status, at, evidence)
			SELECT 1, 'p', 'pass', now() - g * interval '1 day', '[{"check":"x"}]' FROM generate_series(0, 150) g`,
	} {
		if _, err := st.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var changes, maxID, transitions int64
	if err := st.pool.QueryRow(ctx, `SELECT count(*), max(id) FROM host_changes`).Scan(&changes, &maxID); err != nil {
		t.Fatal(err)
	}
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM result_transitions WHERE evidence::text = '[{"check":"x"}]'`).Scan(&transitions); err != nil {
		t.Fatal(err)
	}
	if changes != 152 || transitions != 151 {
		t.Errorf("after migrating: %d changes and %d transitions, want 152 and 151", changes, transitions)
	}
	var id int64
	if err := st.pool.QueryRow(ctx, `INSERT INTO host_changes (host_id, kind, first_seen, seq) VALUES (1, 'x', now(), 1) RETURNING id`).Scan(&id); err != nil || id != maxID+1 {
		t.Errorf("new change id %d (%v), want %d", id, err, maxID+1)
	}
	if got := partitionNames(t, st, "result_transitions"); len(got) < 2+6+2 {
		t.Errorf("partitions %q: want months from five months back to two ahead", got)
	}
	var old int64
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM host_changes_old`).Scan(&old); err != nil || old != 1 {
		t.Errorf("rows before the first month in host_changes_old: %d (%v), want 1", old, err)
	}
}

// BenchmarkPruneBatch measures one retention batch (5,000 rows) deleted
// from the month that straddles the cutoff, out of 1,000,000 changes of
// 5,000 hosts, after timing the drop of the first month.
func BenchmarkPruneBatch(b *testing.B) {
	ctx := b.Context()
	st, err := Open(ctx, pgtest.NewDatabase(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO hosts (node_key_hash, hostname, enrolled_at) SELECT 'k' || g, 'h' || g, now() FROM generate_series(1, 5000) g`,
		// 200 changes per host spread over the current month and the next.
		`INSERT INTO host_changes (host_id, kind, subject, first_seen, seq)
			SELECT h, 'software_installed', 'pkg' || g, $1::timestamptz + (g * 5000 + h) * interval '5 seconds', g
			FROM generate_series(1, 5000) h CROSS JOIN generate_series(0, 199) g`,
		`ANALYZE host_changes`,
	} {
		args := []any{}
		if strings.Contains(q, "$1") {
			args = append(args, m)
		}
		if _, err := st.pool.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	// The first call drops the first month whole, which is timed once.
	cutoff := m.AddDate(0, 1, 15)
	start := time.Now()
	n, err := st.prunePartitioned(ctx, "host_changes", "first_seen", cutoff, 5000)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("dropping the first month and one batch: %d rows in %v", n, time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for b.Loop() {
		n, err := st.prunePartitioned(ctx, "host_changes", "first_seen", cutoff, 5000)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("nothing left to delete: the benchmark ran out of rows")
		}
	}
}
