package storetest

import (
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// agentSpec is a policy agents evaluate (not expr-only).
func agentSpec(id string) store.PolicySpec {
	return store.PolicySpec{Policy: policy.Policy{
		ID: id, Title: "Title of " + id, Severity: policy.SeverityHigh, Platforms: []string{"linux"},
		Check: policy.Check{File: &policy.FileCheck{Path: "/etc/motd", Exists: new(true)}},
	}}
}

func lastChecked(t *testing.T, st store.Store, host int64) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for _, r := range hostResults(t, st, host, at(time.Hour)) {
		out[r.PolicyID] = r.LastCheckedAt
	}
	return out
}

// testLastChecked: an agent reports each finished evaluation, changed or
// not; agent-evaluated results read it as their last check, expr-only
// ones keep their own time, and the time never moves back.
func testLastChecked(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), agentSpec("a"), spec("x", "true"))
	host := enroll(t, st, "h")
	other := enroll(t, st, "other")
	applyResults(t, st,
		store.ResultBatch{HostID: host, Revision: 1, EvaluatedAt: at(time.Minute),
			Results: []policy.Result{result("a", policy.StatusPass, at(time.Minute))}},
		store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("x", policy.StatusPass, at(2*time.Minute))}})
	if h, err := st.GetHost(ctx, host); err != nil || !h.PoliciesCheckedAt.Equal(at(time.Minute)) {
		t.Fatalf("policies checked at %v, %v; want %v", h.PoliciesCheckedAt, err, at(time.Minute))
	}
	if h, _ := st.GetHost(ctx, other); !h.PoliciesCheckedAt.IsZero() {
		t.Errorf("a host that reported nothing has policies checked at %v", h.PoliciesCheckedAt)
	}

	// An evaluation that changed nothing: a batch with only EvaluatedAt.
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, EvaluatedAt: at(30 * time.Minute)})
	got := lastChecked(t, st, host)
	if !got["a"].Equal(at(30 * time.Minute)) {
		t.Errorf("a last checked %v, want the later evaluation %v", got["a"], at(30*time.Minute))
	}
	if !got["x"].Equal(at(2 * time.Minute)) {
		t.Errorf("expr-only x last checked %v, want its own %v", got["x"], at(2*time.Minute))
	}
	for _, r := range hostResults(t, st, host, at(time.Hour)) {
		if r.PolicyID == "a" && !r.CheckedAt.Equal(at(time.Minute)) {
			t.Errorf("a checked_at %v moved; it is when the result changed", r.CheckedAt)
		}
	}
	// An older evaluation arriving late does not move it back.
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, EvaluatedAt: at(10 * time.Minute)})
	if h, _ := st.GetHost(ctx, host); !h.PoliciesCheckedAt.Equal(at(30 * time.Minute)) {
		t.Errorf("policies checked at %v after an older report, want %v", h.PoliciesCheckedAt, at(30*time.Minute))
	}
	// The per-policy results list carries it too.
	rs, err := st.PolicyResults(ctx, store.ResultQuery{PolicyID: "a", At: at(time.Hour), Limit: 10})
	if err != nil || len(rs) != 1 || !rs[0].LastCheckedAt.Equal(at(30*time.Minute)) {
		t.Errorf("policy results %+v, %v; want last checked %v", rs, err, at(30*time.Minute))
	}
}
