package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

var policyTests = []subtest{
	{"apply adds, replaces and keeps", testApplyPolicies},
	{"dry run writes nothing", testApplyDryRun},
	{"apply refuses repeated ids", testApplyRepeated},
	{"list pages by id", testListPolicies},
	{"delete removes results and history", testDeletePolicy},
}

// spec builds an expr-only policy whose expression is expr.
func spec(id, expr string) store.PolicySpec {
	return store.PolicySpec{ExprOnly: true, Policy: policy.Policy{
		ID: id, Title: "Title of " + id, Severity: policy.SeverityHigh, Platforms: []string{"linux"},
		Tags: []string{"cis"}, Remediation: "Fix " + id + ".", Check: policy.Check{Expr: expr},
	}}
}

func applyPolicies(t *testing.T, st store.Store, at time.Time, specs ...store.PolicySpec) store.PolicyApplyResult {
	t.Helper()
	res, err := st.ApplyPolicies(t.Context(), store.PolicyApply{Policies: specs, Actor: "ci", At: at})
	if err != nil {
		t.Fatalf("apply policies: %v", err)
	}
	return res
}

func wantApply(t *testing.T, got store.PolicyApplyResult, rev int64, added, updated, unchanged []string) {
	t.Helper()
	want := store.PolicyApplyResult{Revision: rev, Added: added, Updated: updated, Unchanged: unchanged}
	norm := func(r store.PolicyApplyResult) string {
		return fmt.Sprintf("rev %d added %q updated %q unchanged %q", r.Revision, r.Added, r.Updated, r.Unchanged)
	}
	if norm(got) != norm(want) {
		t.Errorf("apply = %s\nwant    %s", norm(got), norm(want))
	}
}

func revision(t *testing.T, st store.Store) int64 {
	t.Helper()
	rev, err := st.PolicyRevision(t.Context())
	if err != nil {
		t.Fatalf("policy revision: %v", err)
	}
	return rev
}

func auditActions(t *testing.T, st store.Store) []string {
	t.Helper()
	entries, err := st.ListAudit(t.Context(), store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Actor+" "+e.Action+" "+e.Subject+" "+string(e.Detail))
	}
	return out
}

func testApplyPolicies(t *testing.T, st store.Store) {
	ctx := t.Context()
	if rev := revision(t, st); rev != 0 {
		t.Fatalf("revision of an empty store = %d, want 0", rev)
	}
	wantApply(t, applyPolicies(t, st, at(0), spec("b", "true"), spec("a", "false")), 1, []string{"a", "b"}, nil, nil)
	// The same set again changes nothing, not even the revision.
	wantApply(t, applyPolicies(t, st, at(time.Hour), spec("a", "false"), spec("b", "true")), 1, nil, nil, []string{"a", "b"})
	changed := spec("a", "1 == 1")
	notExpr := spec("c", "true")
	notExpr.ExprOnly = false
	wantApply(t, applyPolicies(t, st, at(2*time.Hour), changed, notExpr), 2, []string{"c"}, []string{"a"}, nil)
	if rev := revision(t, st); rev != 2 {
		t.Errorf("revision = %d, want 2", rev)
	}

	a, err := st.GetPolicy(ctx, "a")
	if err != nil {
		t.Fatalf("get policy: %v", err)
	}
	if !reflect.DeepEqual(a.Policy, changed.Policy) || !a.ExprOnly || a.UpdatedRevision != 2 {
		t.Errorf("policy a = %+v, want %+v at revision 2", a, changed.Policy)
	}
	sameTime(t, "a created", a.CreatedAt, at(0))
	sameTime(t, "a updated", a.UpdatedAt, at(2*time.Hour))
	b, err := st.GetPolicy(ctx, "b")
	if err != nil || b.UpdatedRevision != 1 {
		t.Errorf("policy b = %+v, %v; want revision 1 (untouched by later applies)", b, err)
	}
	if c, err := st.GetPolicy(ctx, "c"); err != nil || c.ExprOnly {
		t.Errorf("policy c = %+v, %v; want expr_only false", c, err)
	}
	if _, err := st.GetPolicy(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown policy: %v, want ErrNotFound", err)
	}
	// Two applies changed something; the unchanged one is not audited.
	want := []string{
		`ci policy_applied  {"added":["c"],"revision":2,"updated":["a"]}`,
		`ci policy_applied  {"added":["a","b"],"revision":1,"updated":[]}`,
	}
	if got := auditActions(t, st); !slices.Equal(got, want) {
		t.Errorf("audit =\n  %q\nwant\n  %q", got, want)
	}
}

func testApplyDryRun(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), spec("a", "true"))
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{DryRun: true, Actor: "ci",
		Policies: []store.PolicySpec{spec("a", "false"), spec("b", "true")}})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	wantApply(t, res, 2, []string{"b"}, []string{"a"}, nil)
	if rev := revision(t, st); rev != 1 {
		t.Errorf("revision after a dry run = %d, want 1", rev)
	}
	if _, err := st.GetPolicy(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dry run stored policy b: %v", err)
	}
	if a, _ := st.GetPolicy(ctx, "a"); a.Policy.Check.Expr != "true" {
		t.Errorf("dry run changed policy a to %q", a.Policy.Check.Expr)
	}
	if got := auditActions(t, st); len(got) != 1 {
		t.Errorf("audit after a dry run: %q, want only the first apply", got)
	}
}

func testApplyRepeated(t *testing.T, st store.Store) {
	applyPolicies(t, st, at(0), spec("a", "true"))
	_, err := st.ApplyPolicies(t.Context(), store.PolicyApply{Actor: "ci",
		Policies: []store.PolicySpec{spec("b", "true"), spec("b", "false")}})
	if err == nil {
		t.Fatal("apply with a repeated id succeeded")
	}
	if _, err := st.ApplyPolicies(t.Context(), store.PolicyApply{Policies: []store.PolicySpec{spec("", "true")}}); err == nil {
		t.Error("apply of a policy without id succeeded")
	}
	if rev := revision(t, st); rev != 1 {
		t.Errorf("revision = %d after refused applies, want 1", rev)
	}
}

func testListPolicies(t *testing.T, st store.Store) {
	var specs []store.PolicySpec
	// "B" sorts before "a" bytewise, in both backends.
	for _, id := range []string{"b-2", "a-1", "c-3", "a-10", "B"} {
		specs = append(specs, spec(id, "true"))
	}
	applyPolicies(t, st, at(0), specs...)
	ids := func(ps []store.StoredPolicy) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Policy.ID)
		}
		return out
	}
	all, err := st.ListPolicies(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(all), []string{"B", "a-1", "a-10", "b-2", "c-3"}; !slices.Equal(got, want) {
		t.Errorf("all policies %q, want %q", got, want)
	}
	page, err := st.ListPolicies(t.Context(), "a-1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(page), []string{"a-10", "b-2"}; !slices.Equal(got, want) {
		t.Errorf("page after a-1 %q, want %q", got, want)
	}
}

func testDeletePolicy(t *testing.T, st store.Store) {
	ctx := t.Context()
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("a", "true"), spec("b", "true"))
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		result("a", policy.StatusFail, at(time.Minute)), result("b", policy.StatusPass, at(time.Minute)),
	}})
	rev, err := st.DeletePolicy(ctx, "a", "ops", at(time.Hour))
	if err != nil || rev != 2 {
		t.Fatalf("delete = %d, %v; want revision 2", rev, err)
	}
	if _, err := st.GetPolicy(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted policy: %v, want ErrNotFound", err)
	}
	if got := hostStatuses(t, st, host, at(time.Hour)); !slices.Equal(got, []string{"b pass"}) {
		t.Errorf("host results after delete %q, want only b", got)
	}
	if ts := transitions(t, st, store.TransitionQuery{PolicyID: "a"}); len(ts) != 0 {
		t.Errorf("transitions of the deleted policy remain: %+v", ts)
	}
	if counts := compliance(t, st, at(time.Hour)); len(counts) != 1 || counts[0].PolicyID != "b" {
		t.Errorf("compliance after delete %+v, want b alone", counts)
	}
	if _, err := st.DeletePolicy(ctx, "a", "ops", at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete again: %v, want ErrNotFound", err)
	}
	if rev := revision(t, st); rev != 2 {
		t.Errorf("revision = %d after a failed delete, want 2", rev)
	}
	entries, err := st.ListAudit(ctx, store.AuditQuery{Action: store.AuditPolicyDeleted})
	if err != nil || len(entries) != 1 {
		t.Fatalf("delete audit = %+v, %v", entries, err)
	}
	e := entries[0]
	var detail map[string]any
	if err := json.Unmarshal(e.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	if e.Actor != "ops" || e.Subject != "a" || detail["revision"] != 2.0 || detail["title"] != "Title of a" {
		t.Errorf("delete audit %+v %v", e, detail)
	}
	sameTime(t, "audit time", e.At, at(time.Hour))
	// A policy applied again under a deleted id starts afresh.
	applyPolicies(t, st, at(2*time.Hour), spec("a", "true"))
	if p, err := st.GetPolicy(ctx, "a"); err != nil || !p.CreatedAt.Equal(at(2*time.Hour)) || p.UpdatedRevision != 3 {
		t.Errorf("re-added policy = %+v, %v", p, err)
	}
}
