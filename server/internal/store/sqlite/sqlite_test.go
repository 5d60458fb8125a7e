package sqlite

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/storetest"
)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	st, err := Open(t.Context(), path, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// A missing parent directory is created.
		return openTest(t, filepath.Join(t.TempDir(), "data", "steward.db"))
	})
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, filepath.Join(t.TempDir(), "steward.db"))
	for range 2 {
		if err := st.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, f.Name())
	}
	rows, err := st.r.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %q, want every file once: %q", got, want)
	}
}

func TestPragmas(t *testing.T) {
	st := openTest(t, filepath.Join(t.TempDir(), "steward.db"))
	cases := []struct {
		db     string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", "5000"},
		{"reader", "journal_mode", "wal"},
		{"reader", "query_only", "1"},
		{"reader", "busy_timeout", "5000"},
	}
	for _, c := range cases {
		t.Run(c.db+" "+c.pragma, func(t *testing.T) {
			db := st.w
			if c.db == "reader" {
				db = st.r
			}
			var got string
			if err := db.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
			}
		})
	}
	if got := st.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
	if _, err := st.r.ExecContext(t.Context(), `CREATE TABLE x (a INTEGER)`); err == nil {
		t.Error("reader pool could write")
	}
}

// TestQueryPlans pins that paging and software search walk indexes: with
// 20,000 hosts a scan of hosts or host_software is what makes them slow.
func TestQueryPlans(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, filepath.Join(t.TempDir(), "steward.db"))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		query string
		args  []any
	}{
		{"catalog by exact name", catalogExactSQL, []any{"openssl"}},
		{"catalog by name prefix", catalogRangeSQL, []any{"lib", "lic"}},
		{"catalog from a name", catalogFromSQL, []any{"lib"}},
		{"live hosts of one catalog row", countLiveLinksSQL, []any{1}},
		{"links of one catalog row", searchLinksSQL, []any{1, 0, 100}},
		{"list hosts after", `SELECT ` + hostColumns + ` FROM hosts WHERE (hostname, id) > (?, ?) ORDER BY hostname, id LIMIT ?`, []any{"a", 1, 100}},
		{"list duplicate hosts", `SELECT ` + hostColumns + ` FROM hosts WHERE ` + hasDuplicates + ` ORDER BY hostname, id LIMIT ?`, []any{100}},
		changePlan("changes of one host", store.ChangeQuery{HostID: 1}),
		changePlan("changes of one host, later page", store.ChangeQuery{HostID: 1, AfterFirstSeen: time.Now(), AfterID: 9}),
		changePlan("changes of one host since", store.ChangeQuery{HostID: 1, Since: time.Now()}),
		changePlan("changes of one kind", store.ChangeQuery{Kinds: []string{"software_installed"}, AfterFirstSeen: time.Now(), AfterID: 9}),
		changePlan("changes of the fleet", store.ChangeQuery{Until: time.Now()}),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := explain(ctx, t, st, c.query, c.args...)
			for _, line := range strings.Split(plan, "\n") {
				// Scanning the few rows a UNION subquery produced is fine;
				// scanning a table is not.
				// Listing only duplicates walks hosts in page order and
				// probes two indexes per host: documented, and bounded by
				// the fleet, not by links or changes.
				allowed := strings.Contains(line, "SCAN (subquery") ||
					c.name == "live hosts of one catalog row" && strings.Contains(line, "SCAN hs USING COVERING INDEX host_software_software_host") ||
					c.name == "list duplicate hosts" && strings.Contains(line, "SCAN hosts USING INDEX hosts_hostname_id")
				if strings.Contains(line, "SCAN") && !allowed {
					t.Errorf("plan scans: %q\n%s", line, plan)
				}
				// The catalog step sorts the few rows of one name; the
				// others must come out of their index in order.
				if strings.Contains(line, "TEMP B-TREE") && !strings.HasPrefix(c.name, "catalog") {
					t.Errorf("plan sorts: %q\n%s", line, plan)
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

func explain(ctx context.Context, t *testing.T, st *Store, query string, args ...any) string {
	t.Helper()
	rows, err := st.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}

func BenchmarkApplyBatch(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		st, err := Open(b.Context(), filepath.Join(b.TempDir(), "steward.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	})
}

func BenchmarkResults(b *testing.B) {
	storetest.BenchmarkResults(b, func(b *testing.B) store.Store {
		st, err := Open(b.Context(), filepath.Join(b.TempDir(), "steward.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	})
}

// TestFilesPrivate checks the database, its WAL files and its directory
// are the server account's alone, and that an older 0644 file is
// tightened.
func TestFilesPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Fatal("this test reads Unix modes; the store tests run on Linux")
	}
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "steward.db")
	st, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	want := map[string]os.FileMode{dir: 0o700, path: 0o600}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err == nil {
			want[path+suffix] = 0o600
		}
	}
	for p, mode := range want {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, mode)
		}
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("an older 0644 database is %v after opening, want 0600", fi.Mode().Perm())
	}
}
