package fleet

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/instrument"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// benchPolicies is the policy count of a large deployment's pack.
const benchPolicies = 100

// BenchmarkFleet measures, on a fleet of 2,000 and of 20,000 hosts with
// 100 policies each (every host holding a current result for every
// policy), the two costs the metrics design bounds: one computation of
// the fleet gauges (the store's database time, the only cost of a cycle)
// and one /metrics scrape, whose series count is reported so that the
// two sizes can be compared. The fleet is seeded once per size.
//
//	go test -run '^$' -bench BenchmarkFleet -benchtime 20x ./server/internal/fleet/
func BenchmarkFleet(b *testing.B) {
	for _, backend := range []string{"postgres", "sqlite"} {
		for _, hosts := range []int{2000, 20000} {
			b.Run(fmt.Sprintf("%s/%d hosts", backend, hosts), func(b *testing.B) {
				// The registry a server has: the store wrapped in its
				// per-operation histograms (filled by the seeding) and
				// the pool collector.
				m := metrics.New("bench")
				st, ids, rev := seedFleet(b, backend, hosts, m)
				// Seeding 20,000 hosts takes minutes: an hour's window
				// keeps the hosts seeded as online online meanwhile.
				cfg := Config{Store: st, Metrics: m, OnlineWindow: time.Hour}
				if err := Update(b.Context(), cfg); err != nil {
					b.Fatal(err)
				}
				h := m.Handler("")
				series := scrapeSeries(b, h)
				b.Run("gauge cycle", func(b *testing.B) {
					for b.Loop() {
						if err := Update(b.Context(), cfg); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/cycle")
				})
				// A policy change that flips one policy on every host
				// between two cycles: the fold then has the deltas of
				// hosts/100 result writes to move.
				b.Run("gauge cycle after a fleet-wide flip", func(b *testing.B) {
					round := 0
					for b.Loop() {
						b.StopTimer()
						round++
						flipPolicy(b, st, ids, rev, round)
						b.StartTimer()
						if err := Update(b.Context(), cfg); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/cycle")
				})
				// The cycle's parts, to see where its time goes.
				b.Run("fleet counts", func(b *testing.B) {
					for b.Loop() {
						if _, err := st.FleetCounts(b.Context(), time.Now().Add(-time.Hour)); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("compliance", func(b *testing.B) {
					for b.Loop() {
						if _, err := st.Compliance(b.Context(), time.Now()); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("scrape", func(b *testing.B) {
					for b.Loop() {
						scrapeSeries(b, h)
					}
					b.ReportMetric(float64(series), "series")
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/scrape")
				})
			})
		}
	}
}

// scrapeSeries GETs /metrics as Prometheus does and counts its samples.
func scrapeSeries(b *testing.B, h http.Handler) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("scrape: %d", rec.Code)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(rec.Body.Bytes()))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// seedFleet enrolls hosts with an OS section of one of a few platforms,
// three agent versions, 100 policies, and a result per host and policy.
func seedFleet(b *testing.B, backend string, hosts int, m *metrics.Metrics) (store.Store, []int64, int64) {
	b.Helper()
	ctx := b.Context()
	var (
		st  store.Store
		dsn string
		err error
	)
	switch backend {
	case "postgres":
		dsn = pgtest.NewDatabase(b)
		st, err = postgres.Open(ctx, dsn, nil)
	default:
		st, err = sqlite.Open(ctx, filepath.Join(b.TempDir(), "steward.db"), nil)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	m.RegisterPool(func() metrics.PoolStats { return metrics.PoolStats(st.PoolStats()) })
	st = instrument.Wrap(st, m)
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	oses := []inventory.OS{
		{Name: "Debian GNU/Linux", Platform: "debian", Version: "12", Arch: "amd64"},
		{Name: "Ubuntu", Platform: "ubuntu", Version: "22.04", Arch: "amd64"},
		{Name: "Ubuntu", Platform: "ubuntu", Version: "24.04", Arch: "amd64"},
		{Name: "Red Hat Enterprise Linux", Platform: "rhel", Version: "9.4", Arch: "amd64"},
		{Name: "Windows 11 Enterprise", Platform: "windows", Version: "10.0.22631", Arch: "amd64"},
		{Name: "macOS", Platform: "darwin", Version: "14.6", Arch: "arm64"},
	}
	osSections := make([]wire.Section, len(oses))
	for i, o := range oses {
		raw, err := inventory.Canonical(o)
		if err != nil {
			b.Fatal(err)
		}
		osSections[i] = wire.Section{Name: inventory.SectionOS, Hash: inventory.Hash(raw), Data: json.RawMessage(raw)}
	}
	ids := make([]int64, hosts)
	var msgs []store.Message
	flush := func() {
		if _, err := st.ApplyBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		msgs = msgs[:0]
	}
	for i := range ids {
		id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("%064x", i+1), Hostname: fmt.Sprintf("host-%05d", i), EnrolledAt: now})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
		os := "linux"
		sec := osSections[i%len(osSections)]
		if i%len(oses) >= 4 {
			os = oses[i%len(oses)].Platform
		}
		seen := now
		if i%10 == 0 {
			seen = now.Add(-2 * time.Hour) // a tenth offline
		}
		if err := st.HostConnected(ctx, id, store.HelloInfo{Hostname: fmt.Sprintf("host-%05d", i), OS: os, Arch: "amd64",
			AgentVersion: fmt.Sprintf("1.%d.0", i%3)}, seen); err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, store.Message{HostID: id, Seq: 1, Type: wire.TypeInventory, Received: seen,
			Inventory: &wire.Inventory{CollectedAt: seen, Digest: inventory.Digest(map[string]string{sec.Name: sec.Hash}), Sections: []wire.Section{sec}}})
		if len(msgs) == 256 {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
	specs := make([]store.PolicySpec, benchPolicies)
	names := make([]string, benchPolicies)
	sevs := []string{policy.SeverityLow, policy.SeverityMedium, policy.SeverityHigh, policy.SeverityCritical}
	for i := range specs {
		names[i] = fmt.Sprintf("policy-%03d", i)
		specs[i] = store.PolicySpec{ExprOnly: true, Policy: policy.Policy{ID: names[i], Title: names[i], Severity: sevs[i%len(sevs)],
			Platforms: []string{"linux"}, Check: policy.Check{Expr: "true"}}}
	}
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: specs, Actor: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	statuses := []policy.Status{policy.StatusPass, policy.StatusPass, policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusError}
	const perCall = 100
	for i := 0; i < len(ids); i += perCall {
		var batches []store.ResultBatch
		for _, id := range ids[i:min(i+perCall, len(ids))] {
			rb := store.ResultBatch{HostID: id, Revision: res.Revision, Results: make([]policy.Result, len(names))}
			for j, n := range names {
				rb.Results[j] = policy.Result{PolicyID: n, Status: statuses[(int(id)+j)%len(statuses)], CheckedAt: now, Duration: time.Millisecond}
			}
			batches = append(batches, rb)
		}
		if _, err := st.ApplyResults(ctx, batches); err != nil {
			b.Fatal(err)
		}
	}
	if dsn != "" {
		// Planner statistics after the bulk load, as autovacuum would
		// gather them within a minute on a real server.
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	return st, ids, res.Revision
}

// flipPolicy sets policy-000 to pass on every host in odd rounds and to
// fail in even ones, in calls of 100 hosts as the results writer makes.
func flipPolicy(b *testing.B, st store.Store, ids []int64, rev int64, round int) {
	status := policy.StatusFail
	if round%2 == 1 {
		status = policy.StatusPass
	}
	at := time.Now().UTC()
	for i := 0; i < len(ids); i += 100 {
		var batches []store.ResultBatch
		for _, id := range ids[i:min(i+100, len(ids))] {
			batches = append(batches, store.ResultBatch{HostID: id, Revision: rev,
				Results: []policy.Result{{PolicyID: "policy-000", Status: status, CheckedAt: at, Duration: time.Millisecond}}})
		}
		if _, err := st.ApplyResults(b.Context(), batches); err != nil {
			b.Fatal(err)
		}
	}
}
