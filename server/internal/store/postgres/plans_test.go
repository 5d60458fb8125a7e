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
		{"a policy's failures", "", func() (string, []any) { return page(store.ResultQuery{Status: policy.StatusFail}) }},
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
			plan := strings.Join(lines, "\n")
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
