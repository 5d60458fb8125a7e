package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// applyResults stores, at revision rev, one result per policy for host,
// checked a minute before now.
func applyResults(t *testing.T, f *fixture, host, rev int64, st policy.Status, ids ...string) {
	t.Helper()
	rb := store.ResultBatch{HostID: host, Revision: rev}
	for _, id := range ids {
		rb.Results = append(rb.Results, policy.Result{PolicyID: id, Status: st, CheckedAt: now.Add(-time.Minute),
			Duration: time.Millisecond, Evidence: []policy.Evidence{{Check: "check.expr", Passed: st == policy.StatusPass, Detail: "os.platform is debian"}}})
	}
	if _, err := f.store.ApplyResults(t.Context(), []store.ResultBatch{rb}); err != nil {
		t.Fatalf("apply results: %v", err)
	}
}

// fleet is five hosts: 1 and 2 fail ssh-root, 3 passes, 4 errors, and 5
// has no result; os-debian passes on 1 to 4.
func fleet(t *testing.T, f *fixture) {
	t.Helper()
	for i := int64(1); i <= 5; i++ {
		f.store.AddHost(store.Host{ID: i, Hostname: fmt.Sprintf("host-%d", i)})
	}
	decode[apitypes.ApplyResult](t, f.apply(t, "", twoPolicies), http.StatusOK)
	applyResults(t, f, 1, 1, policy.StatusFail, "ssh-root")
	applyResults(t, f, 2, 1, policy.StatusFail, "ssh-root")
	applyResults(t, f, 3, 1, policy.StatusPass, "ssh-root")
	applyResults(t, f, 4, 1, policy.StatusError, "ssh-root")
	for i := int64(1); i <= 4; i++ {
		applyResults(t, f, i, 1, policy.StatusPass, "os-debian")
	}
}

func (f *fixture) exempt(t *testing.T, body string) apitypes.Exemption {
	t.Helper()
	return decode[apitypes.Exemption](t, f.send(t, http.MethodPost, "/api/v1/exemptions", "Bearer "+token, "application/json", body), http.StatusOK)
}

func TestResultsAndCompliance(t *testing.T) {
	f := newFixture(t)
	fleet(t, f)
	c := decode[apitypes.Compliance](t, f.get(t, "/api/v1/compliance"), http.StatusOK)
	want := apitypes.Compliance{Revision: 1, Policies: []apitypes.PolicyCompliance{
		{PolicyID: "os-debian", Title: "Runs Debian", Severity: "low", PolicyCounts: apitypes.PolicyCounts{Pass: 4, Total: 4}},
		{PolicyID: "ssh-root", Title: "SSH forbids root login", Severity: "high", PolicyCounts: apitypes.PolicyCounts{Pass: 1, Fail: 2, Error: 1, Total: 4}},
	}, Totals: apitypes.PolicyCounts{Pass: 5, Fail: 2, Error: 1, Total: 8}}
	if !equalJSON(c, want) {
		t.Errorf("compliance =\n%+v\nwant\n%+v", c, want)
	}

	// Exempt host 2 from ssh-root: it leaves the failing count.
	e := f.exempt(t, `{"policy_id":"ssh-root","host_id":2,"reason":"lab box","owner":"alice","expires_at":"2025-03-08T00:00:00Z"}`)
	if !e.Active || e.CreatedBy != "ops-token" || e.HostID != 2 {
		t.Errorf("exemption = %+v", e)
	}
	c = decode[apitypes.Compliance](t, f.get(t, "/api/v1/compliance"), http.StatusOK)
	if got := c.Policies[1].PolicyCounts; got != (apitypes.PolicyCounts{Pass: 1, Fail: 1, Error: 1, Exempt: 1, Total: 4}) {
		t.Errorf("ssh-root counts with an exemption = %+v", got)
	}
	list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies"), http.StatusOK)
	if list.Policies[1].Counts.Exempt != 1 || list.Policies[1].Counts.Fail != 1 {
		t.Errorf("policy list counts = %+v", list.Policies[1].Counts)
	}
	if one := decode[apitypes.Policy](t, f.get(t, "/api/v1/policies/ssh-root"), http.StatusOK); one.Counts != list.Policies[1].Counts {
		t.Errorf("ssh-root's own counts = %+v, in the list %+v", one.Counts, list.Policies[1].Counts)
	}

	failing := decode[apitypes.ResultList](t, f.get(t, "/api/v1/policies/ssh-root/results?status=fail"), http.StatusOK)
	if len(failing.Results) != 1 || failing.Results[0].HostID != 1 || failing.Results[0].Hostname != "host-1" {
		t.Fatalf("failing results = %+v", failing.Results)
	}
	r := failing.Results[0]
	if !r.Since.Equal(now.Add(-time.Minute)) || len(r.Evidence) != 1 || r.Evidence[0].Detail != "os.platform is debian" ||
		r.DurationNS != int64(time.Millisecond) || r.PolicyRevision != 1 || r.Exemption != nil {
		t.Errorf("failing result = %+v", r)
	}
	exempt := decode[apitypes.ResultList](t, f.get(t, "/api/v1/policies/ssh-root/results?status=exempt"), http.StatusOK)
	if len(exempt.Results) != 1 || exempt.Results[0].HostID != 2 || exempt.Results[0].UnderlyingStatus != policy.StatusFail ||
		exempt.Results[0].Exemption == nil || exempt.Results[0].Exemption.Reason != "lab box" {
		t.Errorf("exempt results = %+v", exempt.Results)
	}

	hp := decode[apitypes.HostPolicies](t, f.get(t, "/api/v1/hosts/2/policies"), http.StatusOK)
	if len(hp.Policies) != 2 || hp.Policies[0].Status != policy.StatusPass || hp.Policies[1].Status != policy.StatusExempt ||
		hp.Policies[1].UnderlyingStatus != policy.StatusFail || hp.Policies[1].Exemption.ID != e.ID {
		t.Errorf("host 2 policies = %+v", hp.Policies)
	}
	// A host without results still lists every policy, without status.
	hp = decode[apitypes.HostPolicies](t, f.get(t, "/api/v1/hosts/5/policies"), http.StatusOK)
	if len(hp.Policies) != 2 || hp.Policies[0].Status != "" || !hp.Policies[0].Since.IsZero() || hp.Revision != 1 {
		t.Errorf("host 5 policies = %+v", hp)
	}
	wantError(t, f.get(t, "/api/v1/hosts/99/policies"), http.StatusNotFound, "host 99 not found")
}

func TestPolicyResultsPages(t *testing.T) {
	f := newFixture(t)
	decode[apitypes.ApplyResult](t, f.apply(t, "", twoPolicies), http.StatusOK)
	for i := int64(1); i <= 25; i++ {
		f.store.AddHost(store.Host{ID: i, Hostname: fmt.Sprintf("h%02d", i)})
		applyResults(t, f, i, 1, policy.StatusFail, "ssh-root")
	}
	var got []int64
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("paging does not end")
		}
		q := url.Values{"limit": {"10"}, "status": {"fail"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		l := decode[apitypes.ResultList](t, f.get(t, "/api/v1/policies/ssh-root/results?"+q.Encode()), http.StatusOK)
		for _, r := range l.Results {
			got = append(got, r.HostID)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	if len(got) != 25 || !slices.IsSorted(got) || got[0] != 1 {
		t.Errorf("paged host ids %v, want 1..25 once each", got)
	}
	for _, bad := range []string{"status=failing", "cursor=abc", "limit=0"} {
		wantError(t, f.get(t, "/api/v1/policies/ssh-root/results?"+bad), http.StatusBadRequest, "")
	}
	wantError(t, f.get(t, "/api/v1/policies/nope/results"), http.StatusNotFound, `policy "nope" not found`)
}

func TestPolicyHistory(t *testing.T) {
	f := newFixture(t)
	f.store.AddHost(store.Host{ID: 1, Hostname: "a"})
	f.store.AddHost(store.Host{ID: 2, Hostname: "b"})
	decode[apitypes.ApplyResult](t, f.apply(t, "", twoPolicies), http.StatusOK)
	for i, st := range []policy.Status{policy.StatusPass, policy.StatusFail, policy.StatusFail, policy.StatusPass} {
		_, err := f.store.ApplyResults(t.Context(), []store.ResultBatch{{HostID: 1, Revision: 1, Results: []policy.Result{
			{PolicyID: "ssh-root", Status: st, CheckedAt: now.Add(time.Duration(i-10) * time.Minute)}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	applyResults(t, f, 2, 1, policy.StatusFail, "ssh-root")
	h := decode[apitypes.TransitionList](t, f.get(t, "/api/v1/policies/ssh-root/history?host_id=1"), http.StatusOK)
	var keys []string
	for _, tr := range h.Transitions {
		keys = append(keys, string(tr.From)+">"+string(tr.To))
	}
	if want := []string{"fail>pass", "pass>fail", ">pass"}; !slices.Equal(keys, want) {
		t.Errorf("history %q, want %q", keys, want)
	}
	page := decode[apitypes.TransitionList](t, f.get(t, "/api/v1/policies/ssh-root/history?limit=3"), http.StatusOK)
	if len(page.Transitions) != 3 || page.NextCursor == "" {
		t.Fatalf("first page of 4: %+v", page)
	}
	rest := decode[apitypes.TransitionList](t, f.get(t, "/api/v1/policies/ssh-root/history?limit=3&cursor="+page.NextCursor), http.StatusOK)
	if len(rest.Transitions) != 1 || rest.NextCursor != "" {
		t.Errorf("second page: %+v", rest)
	}
	for _, bad := range []string{"host_id=x", "since=yesterday", "cursor=zz"} {
		wantError(t, f.get(t, "/api/v1/policies/ssh-root/history?"+bad), http.StatusBadRequest, "")
	}
}

func TestPolicyRoutesAnswer503(t *testing.T) {
	cases := []struct {
		method, path, body, failing string
	}{
		{"POST", "/api/v1/policies", twoPolicies, "ApplyPolicies"},
		{"GET", "/api/v1/policies", "", "ListPolicies"},
		{"GET", "/api/v1/policies", "", "Compliance"},
		{"GET", "/api/v1/policies/os-debian", "", "GetPolicy"},
		{"DELETE", "/api/v1/policies/os-debian", "", "DeletePolicy"},
		{"GET", "/api/v1/policies/os-debian/results", "", "PolicyResults"},
		{"GET", "/api/v1/policies/os-debian/history", "", "ListTransitions"},
		{"GET", "/api/v1/hosts/1/policies", "", "HostResults"},
		{"GET", "/api/v1/compliance", "", "PolicyRevision"},
		{"POST", "/api/v1/exemptions", `{"policy_id":"os-debian","host_id":1,"reason":"r","owner":"o","expires_at":"2030-01-01T00:00:00Z"}`, "AddExemption"},
		{"GET", "/api/v1/exemptions", "", "ListExemptions"},
		{"GET", "/api/v1/exemptions/1", "", "GetExemption"},
		{"DELETE", "/api/v1/exemptions/1", "", "RevokeExemption"},
		{"GET", "/api/v1/hosts/1/labels", "", "HostLabels"},
		{"PUT", "/api/v1/hosts/1/labels", `{"labels":{"env":"lab"}}`, "SetHostLabels"},
		{"GET", "/api/v1/audit", "", "ListAudit"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path+" "+tc.failing, func(t *testing.T) {
			f := newFixture(t)
			f.store.AddHost(store.Host{ID: 1, Hostname: "a"})
			decode[apitypes.ApplyResult](t, f.apply(t, "", twoPolicies), http.StatusOK)
			f.exempt(t, `{"policy_id":"os-debian","host_id":1,"reason":"r","owner":"o","expires_at":"2030-01-01T00:00:00Z"}`)
			f.store.FailWith(errors.New("connection reset by table secret_tbl"), tc.failing)
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			rec := f.send(t, tc.method, tc.path, "Bearer "+token, ct, tc.body)
			wantError(t, rec, http.StatusServiceUnavailable, "unavailable")
			if strings.Contains(rec.Body.String(), "secret_tbl") || rec.Header().Get("Retry-After") == "" {
				t.Errorf("503 leaks the error or lacks Retry-After: %s", rec.Body)
			}
		})
	}
}

// TestLastCheckedAt: a host's reported evaluation confirms its results
// without changing when they last changed (checked_at), in the policy's
// results, the host's policies and the host itself.
func TestLastCheckedAt(t *testing.T) {
	f := newFixture(t)
	fleet(t, f)
	evaluated := now.Add(-10 * time.Second)
	if _, err := f.store.ApplyResults(t.Context(), []store.ResultBatch{{HostID: 1, Revision: 1, EvaluatedAt: evaluated}}); err != nil {
		t.Fatal(err)
	}
	list := decode[apitypes.ResultList](t, f.get(t, "/api/v1/policies/ssh-root/results"), http.StatusOK)
	for _, r := range list.Results {
		want := now.Add(-time.Minute) // hosts 2 to 4 reported no later evaluation
		if r.HostID == 1 {
			want = evaluated
		}
		if !r.CheckedAt.Equal(now.Add(-time.Minute)) || !r.LastCheckedAt.Equal(want) {
			t.Errorf("host %d: checked_at %v last_checked_at %v; want %v and %v", r.HostID, r.CheckedAt, r.LastCheckedAt,
				now.Add(-time.Minute), want)
		}
	}
	hp := decode[apitypes.HostPolicies](t, f.get(t, "/api/v1/hosts/1/policies"), http.StatusOK)
	for _, p := range hp.Policies {
		// os-debian is expr-only: the server evaluates it, so the agent's
		// evaluation does not confirm it.
		want := map[string]time.Time{"ssh-root": evaluated, "os-debian": now.Add(-time.Minute)}[p.PolicyID]
		if !p.LastCheckedAt.Equal(want) {
			t.Errorf("host 1 policy %s: last_checked_at %v, want %v", p.PolicyID, p.LastCheckedAt, want)
		}
	}
	h := decode[apitypes.Host](t, f.get(t, "/api/v1/hosts/1"), http.StatusOK)
	if !h.PoliciesCheckedAt.Equal(evaluated) {
		t.Errorf("host policies_checked_at %v, want %v", h.PoliciesCheckedAt, evaluated)
	}
}
