package postgres

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/loadgen"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/pkgver"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
)

// BenchmarkSoftwareSearch times every software search form and the
// per-version counts on a fleet shaped as steward-loadgen's: hosts
// loadgen-bench-<n> with steward-loadgen's software sections (500
// packages each by default), 1 % of the hosts retired. The tables are
// filled directly (COPY), not through ingest, which would take hours at
// 20,000 hosts on a small machine; the rows are those ingest writes.
// STEWARD_BENCH_HOSTS and STEWARD_BENCH_PACKAGES change the size (20,000
// and 500 by default). With STEWARD_BENCH_DATABASE, that database is used
// and kept, and seeded only when it has no software links yet, so runs
// after the first skip the seeding. Each sub-benchmark reports p50 and p95 of its
// calls; the first page of a search is what is timed (limit 100, as
// stewardctl asks).
func BenchmarkSoftwareSearch(b *testing.B) {
	st := benchFleetStore(b)
	ctx := b.Context()

	constraint := func(s string) pkgver.Constraint {
		c, err := pkgver.Parse(s)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	search := func(q store.SoftwareQuery) func() (int, error) {
		q.Limit = 101
		return func() (int, error) {
			hits, err := st.SearchSoftware(ctx, q)
			return len(hits), err
		}
	}
	versions := func(q store.SoftwareQuery) func() (int, error) {
		return func() (int, error) {
			vs, err := st.SoftwareVersions(ctx, q)
			return len(vs), err
		}
	}
	cases := []struct {
		name string
		run  func() (int, error)
	}{
		{"prefix lib", search(store.SoftwareQuery{Name: "lib"})},
		{"prefix OPENSSL", search(store.SoftwareQuery{Name: "OPENSSL"})},
		{"contains *ssl*", search(store.SoftwareQuery{Name: "*ssl*"})},
		{"exact openssl", search(store.SoftwareQuery{Name: "openssl", Match: store.MatchExact})},
		{"range openssl >=3 <5", search(store.SoftwareQuery{Name: "openssl", Match: store.MatchExact, Version: constraint(">=3 <5")})},
		{"range *ssl* >=3 <5", search(store.SoftwareQuery{Name: "*ssl*", Version: constraint(">=3 <5")})},
		{"range lib <2", search(store.SoftwareQuery{Name: "lib", Version: constraint("<2")})},
		{"versions openssl", versions(store.SoftwareQuery{Name: "openssl", Match: store.MatchExact})},
		{"versions lib", versions(store.SoftwareQuery{Name: "lib"})},
		{"versions *ssl*", versions(store.SoftwareQuery{Name: "*ssl*"})},
		{"versions *ssl* >=3 <5", versions(store.SoftwareQuery{Name: "*ssl*", Version: constraint(">=3 <5")})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { timeCalls(b, c.run) })
	}
}

// benchFleetStore opens the benchmark database (STEWARD_BENCH_DATABASE,
// or a throwaway one), migrates it and seeds the software fleet unless
// it holds links already.
func benchFleetStore(b *testing.B) *Store {
	hosts := envInt(b, "STEWARD_BENCH_HOSTS", 20000)
	packages := envInt(b, "STEWARD_BENCH_PACKAGES", 500)
	ctx := b.Context()
	dsn := os.Getenv("STEWARD_BENCH_DATABASE")
	if dsn == "" {
		dsn = pgtest.NewDatabase(b)
	}
	st, err := Open(ctx, dsn, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var links int64
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM host_software`).Scan(&links); err != nil {
		b.Fatal(err)
	}
	if links == 0 {
		links = seedSoftwareFleet(b, st, hosts, packages)
	}
	var catalogRows int64
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM software`).Scan(&catalogRows); err != nil {
		b.Fatal(err)
	}
	b.Logf("fleet: %d links, %d catalog rows (%s)", links, catalogRows, time.Since(start).Round(time.Second))
	return st
}

// timeCalls runs run b.N times and reports p50 and p95 in milliseconds,
// and the rows the last call returned.
func timeCalls(b *testing.B, run func() (int, error)) {
	var took []time.Duration
	rows := 0
	for b.Loop() {
		t0 := time.Now()
		n, err := run()
		took = append(took, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	slices.Sort(took)
	pct := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(float64(rows), "rows")
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// seedSoftwareFleet fills hosts, software (with host_count) and
// host_software from steward-loadgen's inventories and returns the
// number of links. Links stream into COPY host by host, so memory holds
// one host's inventory at a time.
func seedSoftwareFleet(b *testing.B, st *Store, hosts, packages int) int64 {
	ctx := b.Context()
	fleet, err := loadgen.NewFleet(packages)
	if err != nil {
		b.Fatal(err)
	}
	type key struct{ name, version, arch, source string }
	ids := map[key]int64{}
	counts := map[int64]int64{}
	now := time.Now()
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	copyIn := func(table string, cols []string, src pgx.CopyFromSource) int64 {
		n, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, src)
		if err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
		return n
	}
	var hostRows [][]any
	for h := 1; h <= hosts; h++ {
		var retired *time.Time
		if h%100 == 0 {
			retired = &now
		}
		hostname := fmt.Sprintf("loadgen-bench-%d", h)
		hostRows = append(hostRows, []any{int64(h), "k" + hostname, hostname, now, retired})
	}
	copyIn("hosts", []string{"id", "node_key_hash", "hostname", "enrolled_at", "retired_at"}, pgx.CopyFromRows(hostRows))

	// The links go first, with the foreign key triggers off (their keys
	// are checked once, below): catalog ids are handed out as packages
	// are first seen.
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		b.Fatal(err)
	}
	host, pending := 0, []int64(nil)
	links := copyIn("host_software", []string{"host_id", "software_id"}, pgx.CopyFromFunc(func() ([]any, error) {
		for len(pending) == 0 {
			if host++; host > hosts {
				return nil, nil
			}
			inv, err := fleet.Inventory(fmt.Sprintf("loadgen-bench-%d", host), now)
			if err != nil {
				return nil, err
			}
			for _, sec := range inv.Sections {
				if sec.Name != inventory.SectionSoftware {
					continue
				}
				var sw inventory.Software
				if err := json.Unmarshal(sec.Data, &sw); err != nil {
					return nil, err
				}
				seen := map[int64]bool{}
				for _, p := range sw.Packages {
					k := key{p.Name, p.Version, p.Arch, p.Source}
					id, ok := ids[k]
					if !ok {
						id = int64(len(ids) + 1)
						ids[k] = id
					}
					if !seen[id] {
						seen[id] = true
						counts[id]++
						pending = append(pending, id)
					}
				}
			}
		}
		id := pending[0]
		pending = pending[1:]
		return []any{int64(host), id}, nil
	}))
	catalog := make([][]any, 0, len(ids))
	for k, id := range ids {
		catalog = append(catalog, []any{id, k.name, k.version, k.arch, k.source, counts[id]})
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE software ALTER COLUMN id SET GENERATED BY DEFAULT`); err != nil {
		b.Fatal(err)
	}
	copyIn("software", []string{"id", "name", "version", "arch", "source", "host_count"}, pgx.CopyFromRows(catalog))
	if _, err := conn.Exec(ctx, `SET session_replication_role = DEFAULT`); err != nil {
		b.Fatal(err)
	}
	var orphans int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM host_software l
		WHERE NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = l.host_id)
		OR NOT EXISTS (SELECT 1 FROM software s WHERE s.id = l.software_id)`).Scan(&orphans); err != nil || orphans != 0 {
		b.Fatalf("links without a host or catalog row: %d, %v", orphans, err)
	}
	for _, stmt := range []string{
		`ALTER TABLE software ALTER COLUMN id SET GENERATED ALWAYS`,
		`SELECT setval(pg_get_serial_sequence('software', 'id'), (SELECT max(id) FROM software))`,
		`SELECT setval(pg_get_serial_sequence('hosts', 'id'), (SELECT max(id) FROM hosts))`,
		`VACUUM ANALYZE hosts, software, host_software`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
	return links
}
