package fleet

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/policy"
)

func TestUpdate(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "steward.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var hosts []int64
	for i := range 4 {
		id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("%064x", i+1), Hostname: fmt.Sprintf("h%d", i), EnrolledAt: now})
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, id)
	}
	// Three hosts said hello, one of them long ago; the fourth never did.
	for i, seen := range []time.Time{now, now, now.Add(-time.Hour)} {
		if err := st.HostConnected(ctx, hosts[i], store.HelloInfo{Hostname: "h", OS: "linux", AgentVersion: "1.4.0"}, seen); err != nil {
			t.Fatal(err)
		}
	}
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{Actor: "test", Policies: []store.PolicySpec{
		{Policy: policy.Policy{ID: "ssh", Title: "ssh", Severity: policy.SeverityHigh, Check: policy.Check{File: &policy.FileCheck{Path: "/x"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var batches []store.ResultBatch
	for i, s := range []policy.Status{policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusFail} {
		batches = append(batches, store.ResultBatch{HostID: hosts[i], Revision: res.Revision,
			Results: []policy.Result{{PolicyID: "ssh", Status: s, CheckedAt: now}}})
	}
	if _, err := st.ApplyResults(ctx, batches); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddExemption(ctx, store.Exemption{PolicyID: "ssh", HostID: hosts[3], Reason: "lab", Owner: "ops",
		CreatedBy: "test", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	m := metrics.New("test")
	if err := Update(ctx, Config{Store: st, Metrics: m, OnlineWindow: 90 * time.Second, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"linux online", testutil.ToFloat64(m.Hosts.WithLabelValues("linux", "unknown", "unknown", "true")), 2},
		{"linux offline", testutil.ToFloat64(m.Hosts.WithLabelValues("linux", "unknown", "unknown", "false")), 1},
		{"never connected", testutil.ToFloat64(m.Hosts.WithLabelValues("unknown", "unknown", "unknown", "false")), 1},
		{"agent 1.4.0", testutil.ToFloat64(m.AgentVersions.WithLabelValues("1.4.0")), 3},
		{"ssh pass", testutil.ToFloat64(m.PolicyResults.WithLabelValues("ssh", "high", "pass")), 1},
		{"ssh fail", testutil.ToFloat64(m.PolicyResults.WithLabelValues("ssh", "high", "fail")), 1},
		{"ssh n/a", testutil.ToFloat64(m.PolicyResults.WithLabelValues("ssh", "high", "not_applicable")), 1},
		{"ssh exempt", testutil.ToFloat64(m.PolicyResults.WithLabelValues("ssh", "high", "exempt")), 1},
		// (pass 1 + exempt 1) / (pass 1 + fail 1 + exempt 1); n/a is left out.
		{"ssh compliance", testutil.ToFloat64(m.ComplianceRatio.WithLabelValues("ssh", "high")), 2.0 / 3.0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.Hosts); n != 3 {
		t.Errorf("steward_hosts has %d series, want 3 (no series per host)", n)
	}
}

// TestUpdateReplaces checks that a policy deleted between two cycles
// loses its series, and that scrapes running during cycles always see the
// policy series, never the emptied vector a reset would show.
func TestUpdateReplaces(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "steward.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	host, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("%064x", 1), Hostname: "h", EnrolledAt: now})
	if err != nil {
		t.Fatal(err)
	}
	var specs []store.PolicySpec
	var results []policy.Result
	for _, id := range []string{"a", "b"} {
		specs = append(specs, store.PolicySpec{Policy: policy.Policy{ID: id, Title: id, Severity: policy.SeverityLow,
			Check: policy.Check{File: &policy.FileCheck{Path: "/x"}}}})
		results = append(results, policy.Result{PolicyID: id, Status: policy.StatusFail, CheckedAt: now})
	}
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{Actor: "test", Policies: specs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyResults(ctx, []store.ResultBatch{{HostID: host, Revision: res.Revision, Results: results}}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	cfg := Config{Store: st, Metrics: m, OnlineWindow: 90 * time.Second}
	if err := Update(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.PolicyResults); n != 10 {
		t.Fatalf("steward_policy_results has %d series, want 2 policies x 5 statuses", n)
	}

	// Scrapes while cycles run: each sees all ten series.
	done := make(chan struct{})
	bad := make(chan int, 1)
	go func() {
		defer close(done)
		for range 200 {
			if n := testutil.CollectAndCount(m.PolicyResults); n != 10 {
				select {
				case bad <- n:
				default:
				}
			}
		}
	}()
	for range 20 {
		if err := Update(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	select {
	case n := <-bad:
		t.Errorf("a scrape during a cycle saw %d policy series, want 10", n)
	default:
	}

	if _, err := st.DeletePolicy(ctx, "b", "test", now); err != nil {
		t.Fatal(err)
	}
	if err := Update(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.PolicyResults); n != 5 {
		t.Errorf("after deleting b, steward_policy_results has %d series, want 5", n)
	}
	if n := testutil.CollectAndCount(m.ComplianceRatio); n != 1 {
		t.Errorf("after deleting b, steward_policy_compliance_ratio has %d series, want 1", n)
	}
}
