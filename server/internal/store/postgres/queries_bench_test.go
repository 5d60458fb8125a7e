package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/loadgen"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// benchToken is the admin token BenchmarkQueries sends.
const benchToken = "bench-admin-token"

// BenchmarkQueries times the read side of the admin API as a client sees
// it, minus the network: each call is one request through the API
// handler (authentication, store calls, JSON) on the fleet
// BenchmarkSoftwareSearch seeds, to which it adds every host's full
// inventory (steward-loadgen's ten sections), labels, STEWARD_BENCH_POLICIES
// policies (60 by default) with a current result on every live host, and
// a few exemptions. Seeding is skipped for whatever the database
// (STEWARD_BENCH_DATABASE) already holds. Result counts are folded
// first; STEWARD_BENCH_DELTAS=n leaves n deltas to add up. Each sub-benchmark reports p50
// and p95 of its requests and the response size.
func BenchmarkQueries(b *testing.B) {
	st := benchFleetStore(b)
	ctx := b.Context()
	policies := envInt(b, "STEWARD_BENCH_POLICIES", 60)
	seedInventories(b, st, envInt(b, "STEWARD_BENCH_PACKAGES", 500))
	seedResults(b, st, policies)
	if err := st.FoldResultCounts(ctx); err != nil {
		b.Fatal(err)
	}
	// STEWARD_BENCH_DELTAS=n leaves n count deltas unfolded (pairs that
	// cancel out), as writers leave them between two fleet cycles.
	if os.Getenv("STEWARD_BENCH_DELTAS") != "" {
		n := envInt(b, "STEWARD_BENCH_DELTAS", 0)
		if _, err := st.pool.Exec(ctx, `INSERT INTO result_count_deltas (policy_id, status, d)
			SELECT format('bench-policy-%s', lpad((g / 2 % $2)::text, 2, '0')), 'pass', CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END
			FROM generate_series(0, $1 - 1) g`, n-n%2, policies); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := st.FoldResultCounts(context.Background()); err != nil {
				b.Error(err)
			}
		})
	}
	if _, err := st.Bootstrap(ctx, store.Credential{Name: "bench", Hash: auth.Hash(benchToken)},
		store.Credential{Name: "bench-enroll", Hash: auth.Hash("bench-enroll-secret")}); err != nil {
		b.Fatal(err)
	}
	h := api.New(api.Config{Store: st})
	get := func(path string) ([]byte, error) {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+benchToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
		return rec.Body.Bytes(), nil
	}
	// The deep pages sit at 95 % of the fleet (19,000 of 20,000), the
	// host whose inventory is read near the middle, whatever the size
	// (make bench runs at 2,000 hosts).
	hosts := envInt(b, "STEWARD_BENCH_HOSTS", 20000)
	var live int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM hosts WHERE retired_at IS NULL`).Scan(&live); err != nil {
		b.Fatal(err)
	}
	page := min(1000, max(100, hosts/20))
	deep := hosts * 19 / 20
	if deep+page > live { // the page walked last must have one after it
		deep = (live - page) / page * page
	}
	deepName := fmt.Sprintf("%d,%03d", deep/1000, deep%1000)
	// deepCursor walks pages of `page` rows until about `at` rows were passed
	// and returns the cursor of the page after.
	deepCursor := func(path string, at int) string {
		cursor := ""
		for seen := 0; seen < at; seen += page {
			body, err := get(path + fmt.Sprintf("?limit=%d&cursor=", page) + url.QueryEscape(cursor))
			if err != nil {
				b.Fatal(err)
			}
			var pg struct {
				NextCursor string `json:"next_cursor"`
			}
			if err := json.Unmarshal(body, &pg); err != nil || pg.NextCursor == "" {
				b.Fatalf("%s after %d rows: no next cursor (%v)", path, seen, err)
			}
			cursor = pg.NextCursor
		}
		return cursor
	}
	var hostID int64
	if err := st.pool.QueryRow(ctx, `SELECT id FROM hosts WHERE retired_at IS NULL ORDER BY id OFFSET $1 LIMIT 1`, hosts*12345/20000).Scan(&hostID); err != nil {
		b.Fatal(err)
	}
	pol := benchPolicyID(policies / 2)
	cases := []struct{ name, path string }{
		{"hosts page", "/api/v1/hosts"},
		{"hosts page, cursor at " + deepName, "/api/v1/hosts?cursor=" + deepCursor("/api/v1/hosts", deep)},
		{"host", fmt.Sprintf("/api/v1/hosts/%d", hostID)},
		{"host inventory", fmt.Sprintf("/api/v1/hosts/%d/inventory", hostID)},
		{"host policies", fmt.Sprintf("/api/v1/hosts/%d/policies", hostID)},
		{"policy results", "/api/v1/policies/" + pol + "/results"},
		{"policy results, cursor at " + deepName, "/api/v1/policies/" + pol + "/results?cursor=" +
			deepCursor("/api/v1/policies/"+pol+"/results", deep)},
		{"policy results, status fail", "/api/v1/policies/" + pol + "/results?status=fail"},
		{"policy results, status exempt", "/api/v1/policies/" + benchPolicyID(1) + "/results?status=exempt"},
		{"compliance", "/api/v1/compliance"},
		{"policies", "/api/v1/policies"},
		{"policy", "/api/v1/policies/" + pol},
		{"software prefix lib", "/api/v1/software?name=lib"},
		{"software prefix OPENSSL", "/api/v1/software?name=OPENSSL"},
		{"software contains *ssl*", "/api/v1/software?name=" + url.QueryEscape("*ssl*")},
		{"software exact openssl", "/api/v1/software?match=exact&name=openssl"},
		{"software exact openssl >=3 <5", "/api/v1/software?match=exact&name=openssl&version=" + url.QueryEscape(">=3 <5")},
		{"software *ssl* >=3 <5", "/api/v1/software?name=" + url.QueryEscape("*ssl*") + "&version=" + url.QueryEscape(">=3 <5")},
		{"software prefix lib <2", "/api/v1/software?name=lib&version=" + url.QueryEscape("<2")},
		{"versions openssl", "/api/v1/software/versions?match=exact&name=openssl"},
		{"versions *ssl*", "/api/v1/software/versions?name=" + url.QueryEscape("*ssl*")},
		{"versions *ssl* >=3 <5", "/api/v1/software/versions?name=" + url.QueryEscape("*ssl*") + "&version=" + url.QueryEscape(">=3 <5")},
		{"versions prefix lib", "/api/v1/software/versions?name=lib"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			timeCalls(b, func() (int, error) {
				body, err := get(c.path)
				return len(body), err
			})
		})
	}
}

func benchPolicyID(i int) string { return fmt.Sprintf("bench-policy-%02d", i) }

// seedInventories stores every host's full steward-loadgen inventory
// and fills the host columns ingest copies from it, unless the
// database holds sections already.
func seedInventories(b *testing.B, st *Store, packages int) {
	ctx := b.Context()
	var n int64
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM inventory_sections`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n > 0 {
		return
	}
	start := time.Now()
	fleet, err := loadgen.NewFleet(packages)
	if err != nil {
		b.Fatal(err)
	}
	rows, _ := st.pool.Query(ctx, `SELECT id, hostname FROM hosts ORDER BY id`)
	type host struct {
		id   int64
		name string
	}
	hosts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (host, error) {
		var h host
		return h, r.Scan(&h.id, &h.name)
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	i, pending := 0, [][]any(nil)
	n, err = st.pool.CopyFrom(ctx, pgx.Identifier{"inventory_sections"}, []string{"host_id", "name", "hash", "data", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for len(pending) == 0 {
				if i == len(hosts) {
					return nil, nil
				}
				inv, err := fleet.Inventory(hosts[i].name, now)
				if err != nil {
					return nil, err
				}
				for _, sec := range inv.Sections {
					pending = append(pending, []any{hosts[i].id, sec.Name, sec.Hash, json.RawMessage(sec.Data), now})
				}
				i++
			}
			row := pending[0]
			pending = pending[1:]
			return row, nil
		}))
	if err != nil {
		b.Fatalf("copy inventory_sections: %v", err)
	}
	for _, stmt := range []string{
		`UPDATE hosts SET os = 'linux', platform = 'debian', os_version = '12', arch = 'x86_64', agent_version = '1.0.0',
			last_seen = now(), connected_at = now(), machine_id = md5(id::text), hardware_uuid = md5('hw' || id::text)::uuid::text`,
		`VACUUM ANALYZE hosts, inventory_sections`,
	} {
		if _, err := st.pool.Exec(ctx, stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
	b.Logf("seeded %d inventory sections in %s", n, time.Since(start).Round(time.Second))
}

// seedResults applies `policies` policies and gives every live host a
// current result for each (7 in 10 pass, 2 fail, the rest not applicable
// or error), labels every host, and exempts 200 hosts from policy 1 by
// label and a few hosts by id, unless the database holds results
// already. Results go in by COPY, so the count triggers see them as one
// statement.
func seedResults(b *testing.B, st *Store, policies int) {
	ctx := b.Context()
	var n int64
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM results_current`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n > 0 {
		return
	}
	start := time.Now()
	specs := make([]store.PolicySpec, policies)
	for i := range specs {
		id := benchPolicyID(i)
		specs[i] = store.PolicySpec{ExprOnly: true, Policy: policy.Policy{ID: id, Title: "Title of " + id,
			Severity: policy.SeverityHigh, Platforms: []string{"linux"}, Tags: []string{"bench"},
			Check: policy.Check{Expr: "true"}}}
	}
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: specs, Actor: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	rows, _ := st.pool.Query(ctx, `SELECT id FROM hosts WHERE retired_at IS NULL ORDER BY id`)
	hosts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.pool.CopyFrom(ctx, pgx.Identifier{"host_labels"}, []string{"host_id", "key", "value"},
		pgx.CopyFromSlice(len(hosts)*2, func(i int) ([]any, error) {
			h := hosts[i/2]
			if i%2 == 0 {
				return []any{h, "env", []string{"prod", "staging", "dev"}[h%3]}, nil
			}
			return []any{h, "rack", fmt.Sprintf("r%d", h%100)}, nil
		})); err != nil {
		b.Fatalf("copy host_labels: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	evidence := json.RawMessage(`[{"check":"check.expr","detail":"inventory.os.platform is \"debian\""}]`)
	statuses := []string{"pass", "pass", "pass", "pass", "pass", "pass", "pass", "fail", "fail", "not_applicable"}
	k := 0
	n, err = st.pool.CopyFrom(ctx, pgx.Identifier{"results_current"},
		[]string{"host_id", "policy_id", "status", "evidence", "checked_at", "duration_ns", "since", "policy_revision"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if k == len(hosts)*policies {
				return nil, nil
			}
			h, p := hosts[k/policies], k%policies
			k++
			status := statuses[(int(h)*7+p*3)%len(statuses)]
			if (int(h)+p)%97 == 0 {
				status = "error"
			}
			return []any{h, benchPolicyID(p), status, evidence, now, int64(time.Millisecond), now.Add(-time.Hour), res.Revision}, nil
		}))
	if err != nil {
		b.Fatalf("copy results_current: %v", err)
	}
	if _, err := st.AddExemption(ctx, store.Exemption{PolicyID: benchPolicyID(1), Labels: map[string]string{"rack": "r7"},
		Reason: "bench", Owner: "bench", ExpiresAt: now.Add(365 * 24 * time.Hour), CreatedBy: "bench"}); err != nil {
		b.Fatal(err)
	}
	for i := range 20 {
		if _, err := st.AddExemption(ctx, store.Exemption{PolicyID: benchPolicyID(i % policies), HostID: hosts[i*977%len(hosts)],
			Reason: "bench", Owner: "bench", ExpiresAt: now.Add(365 * 24 * time.Hour), CreatedBy: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.pool.Exec(ctx, `VACUUM ANALYZE results_current, host_labels, exemptions, exemption_labels, result_count_deltas`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d policies, %d results in %s", policies, n, time.Since(start).Round(time.Second))
}
