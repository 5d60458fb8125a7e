package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// TestResultQueryPlans pins, on 5,000 hosts with 20 policies each, that
// pages of results, a host's results and a policy's history are read
// through their indexes: no plan scans results_current,
// result_transitions or hosts whole, and a policy's pages and history
// come out of an index in order, without sorting the policy's rows.
func TestResultQueryPlans(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `
		INSERT INTO hosts (node_key_hash, hostname, enrolled_at)
			SELECT 'k' || g, 'host-' || g, now() FROM generate_series(1, 5000) g;
		INSERT INTO policies (id, body, title, severity, created_at, updated_at, updated_revision)
			SELECT 'policy-' || g, '{}', 'P' || g, 'high', now(), now(), 1 FROM generate_series(1, 20) g;
		INSERT INTO results_current (host_id, policy_id, status, checked_at, since, policy_revision)
			SELECT h.id, p.id, (ARRAY['pass', 'fail', 'pass', 'not_applicable', 'pass'])[1 + h.id % 5], now(), now(), 1
			FROM hosts h CROSS JOIN policies p;
		INSERT INTO result_transitions (host_id, policy_id, from_status, to_status, at)
			SELECT host_id, policy_id, 'pass', status, now() - (host_id % 100) * interval '1 minute' FROM results_current;
		INSERT INTO host_labels (host_id, key, value) SELECT id, 'env', 'lab' FROM hosts WHERE id % 50 = 0;
		INSERT INTO exemptions (policy_id, host_id, label_count, reason, owner, expires_at, created_at, created_by)
			VALUES ('policy-3', 7, 0, 'r', 'o', now() + interval '1 day', now(), 'ci');
		INSERT INTO exemptions (policy_id, label_count, reason, owner, expires_at, created_at, created_by)
			VALUES ('policy-3', 1, 'r', 'o', now() + interval '1 day', now(), 'ci');
		INSERT INTO exemption_labels (exemption_id, key, value) SELECT id, 'env', 'lab' FROM exemptions WHERE host_id IS NULL;
		ANALYZE`); err != nil {
		t.Fatal(err)
	}
	page := func(q store.ResultQuery) (string, []any) {
		q.At, q.PolicyID, q.Limit = time.Now(), "policy-3", 101
		return policyResultsQuery(q)
	}
	cases := []struct {
		name    string
		sortKey string // a sort of these rows is refused: they must come out of an index in order
		query   func() (string, []any)
	}{
		{"a policy's results", "r.host_id", func() (string, []any) { return page(store.ResultQuery{}) }},
		{"a policy's results, later page", "r.host_id", func() (string, []any) { return page(store.ResultQuery{AfterHostID: 2500}) }},
		{"a policy's failures", "r.host_id", func() (string, []any) { return page(store.ResultQuery{Status: policy.StatusFail}) }},
		{"a policy's exempt results", "", func() (string, []any) { return page(store.ResultQuery{Status: policy.StatusExempt}) }},
		{"a host's results", "", func() (string, []any) { return hostResultsSQL, []any{time.Now(), int64(7)} }},
		{"a policy's history", "result_transitions", func() (string, []any) {
			return transitionQuery(store.TransitionQuery{PolicyID: "policy-3", Limit: 101})
		}},
		{"a host's history of a policy", "", func() (string, []any) {
			return transitionQuery(store.TransitionQuery{PolicyID: "policy-3", HostID: 7, Limit: 101})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			query, args := c.query()
			rows, _ := st.pool.Query(ctx, "EXPLAIN "+query, args...)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(withoutEmptyPartitions(t, st, lines), "\n")
			bads := []string{"Seq Scan on results_current", "Seq Scan on result_transitions", "Seq Scan on hosts"}
			if c.sortKey != "" {
				bads = append(bads, "Sort Key: "+c.sortKey)
			}
			for _, bad := range bads {
				if strings.Contains(plan, bad) {
					t.Errorf("plan has %q:\n%s", strings.TrimSpace(bad), plan)
				}
			}
		})
	}
}

// TestSoftwareQueryPlans pins, on 5,000 hosts with 100 packages each out
// of a 5,000-row catalog (the first 300 rows on about 1,700 hosts each),
// that every software search step reads indexes: exact names from the unique index, prefixes from the lower(name) index,
// a host page from host_software's (software_id, host_id) index in order,
// and retired hosts' links from their primary key ranges of
// host_software, never from a catalog row's every link. Only a glob
// starting with "*" may read the catalog whole.
func TestSoftwareQueryPlans(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `
		INSERT INTO hosts (node_key_hash, hostname, enrolled_at)
			SELECT 'k' || g, 'host-' || g, now() FROM generate_series(1, 5000) g;
		UPDATE hosts SET retired_at = now() WHERE id % 100 = 0;
		INSERT INTO software (name, version, arch, source)
			SELECT 'Pkg-' || (g / 5), '1.' || (g % 5), 'amd64', 'dpkg' FROM generate_series(1, 5000) g;
		INSERT INTO host_software (host_id, software_id)
			SELECT h.id, 1 + (h.id * 7 + k) % 300 FROM hosts h CROSS JOIN generate_series(1, 100) k
			ON CONFLICT DO NOTHING;
		ANALYZE`); err != nil {
		t.Fatal(err)
	}
	prefix := func(name string) (string, []any) {
		return catalogQuery(store.SoftwareQuery{Name: name})
	}
	cases := []struct {
		name    string
		query   func() (string, []any)
		index   string // the plan must read this index
		catalog bool   // the plan may read the catalog whole
	}{
		{"catalog by exact name", func() (string, []any) {
			return catalogQuery(store.SoftwareQuery{Name: "Pkg-7", Match: store.MatchExact})
		}, "software_name_version_arch_source_key", false},
		{"catalog by name prefix", func() (string, []any) { return prefix("pkg-12") }, "software_name_lower", false},
		{"catalog by glob start", func() (string, []any) { return prefix("PKG-12*1") }, "software_name_lower", false},
		{"catalog by glob", func() (string, []any) { return prefix("*g-12*") }, "", true},
		{"a page of one catalog row", func() (string, []any) { return searchLinksSQL, []any{int64(7), int64(0), 101} }, "host_software_software_host", false},
		{"retired links", func() (string, []any) { return retiredLinksSQL, nil }, "hosts_retired_at", false},
		{"retired hosts' key", func() (string, []any) { return retiredKeySQL, nil }, "hosts_retired_at", false},
		{"catalog rows with host counts by name prefix", func() (string, []any) {
			query, args := prefix("pkg-12")
			return versionColumns + strings.TrimPrefix(query, catalogColumns), args
		}, "software_name_lower", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			query, args := c.query()
			rows, _ := st.pool.Query(ctx, "EXPLAIN "+query, args...)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(withoutEmptyPartitions(t, st, lines), "\n")
			bads := []string{"Seq Scan on host_software", "Seq Scan on hosts", "Sort Key: l.host_id"}
			if strings.HasPrefix(c.name, "retired links") {
				// Counting probes the retired hosts' links, never reads
				// a catalog row's every link.
				for _, line := range lines {
					if strings.Contains(line, "Index Cond: (software_id") && !strings.Contains(line, "host_id = h.id") {
						t.Errorf("plan reads every link of the catalog rows: %q\n%s", line, plan)
					}
				}
			}
			if !c.catalog {
				bads = append(bads, "Seq Scan on software")
			}
			for _, bad := range bads {
				if strings.Contains(plan, bad) {
					t.Errorf("plan has %q:\n%s", bad, plan)
				}
			}
			if c.index != "" && !strings.Contains(plan, c.index) {
				t.Errorf("plan does not read %s:\n%s", c.index, plan)
			}
		})
	}
}
