package postgres

import (
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// TestComplianceFoldsManyDeltas: a compliance read adds up a few
// unfolded count deltas itself, folds them after reading when there are more
// than foldDeltasAt, and answers the same counts either way.
func TestComplianceFoldsManyDeltas(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	host, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "k1", Hostname: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyPolicies(ctx, store.PolicyApply{Actor: "ci", Policies: []store.PolicySpec{{ExprOnly: true,
		Policy: policy.Policy{ID: "p", Title: "P", Severity: policy.SeverityHigh, Check: policy.Check{Expr: "true"}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyResults(ctx, []store.ResultBatch{{HostID: host, Revision: 1,
		Results: []policy.Result{{PolicyID: "p", Status: policy.StatusFail, CheckedAt: time.Now()}}}}); err != nil {
		t.Fatal(err)
	}
	want := store.PolicyCounts{PolicyID: "p", Fail: 1}
	for _, c := range []struct {
		pairs    int   // pairs of deltas that cancel out, added
		wantLeft int64 // deltas left after the reads
	}{
		{10, 21}, // plus the result's own delta
		{foldDeltasAt, 0},
	} {
		if _, err := st.pool.Exec(ctx, `INSERT INTO result_count_deltas (policy_id, status, d)
			SELECT 'p', 'pass', CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END FROM generate_series(1, $1) g`, 2*c.pairs); err != nil {
			t.Fatal(err)
		}
		all, err := st.Compliance(ctx, time.Time{})
		if err != nil || len(all) != 1 || all[0] != want {
			t.Errorf("%d pairs: compliance = %+v, %v; want %+v", c.pairs, all, err, want)
		}
		one, err := st.PolicyCompliance(ctx, "p", time.Time{})
		if err != nil || one != want {
			t.Errorf("%d pairs: policy compliance = %+v, %v; want %+v", c.pairs, one, err, want)
		}
		var left int64
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM result_count_deltas`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != c.wantLeft {
			t.Errorf("%d pairs: %d deltas left unfolded, want %d", c.pairs, left, c.wantLeft)
		}
	}
}
