package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

var exemptionTests = []subtest{
	{"host exemption applies, expires, is revoked", testExemptionLifecycle},
	{"label exemptions", testLabelExemptions},
	{"refused exemptions", testExemptionRefused},
	{"list active and all", testListExemptions},
	{"host labels", testHostLabels},
	{"audit pages and token names", testAuditPages},
}

func addExemption(t *testing.T, st store.Store, e store.Exemption) int64 {
	t.Helper()
	if e.Reason == "" {
		e.Reason = "vendor appliance"
	}
	if e.Owner == "" {
		e.Owner = "alice@example.com"
	}
	if e.CreatedBy == "" {
		e.CreatedBy = "ci"
	}
	id, err := st.AddExemption(t.Context(), e)
	if err != nil {
		t.Fatalf("add exemption: %v", err)
	}
	return id
}

func testExemptionLifecycle(t *testing.T, st store.Store) {
	ctx := t.Context()
	web, db := enroll(t, st, "web-1"), enroll(t, st, "db-1")
	applyPolicies(t, st, at(0), spec("p", "true"), spec("q", "true"))
	applyResults(t, st,
		store.ResultBatch{HostID: web, Revision: 1, Results: []policy.Result{
			result("p", policy.StatusFail, at(time.Minute)), result("q", policy.StatusFail, at(time.Minute))}},
		store.ResultBatch{HostID: db, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, at(time.Minute))}})
	id := addExemption(t, st, store.Exemption{PolicyID: "p", HostID: web, ExpiresAt: at(24 * time.Hour), CreatedAt: at(time.Hour)})
	during, after := at(2*time.Hour), at(25*time.Hour)

	// While active: web's p is exempt, the failure still visible beneath.
	rs := hostResults(t, st, web, during)
	if len(rs) != 2 || rs[0].Status != policy.StatusExempt || rs[0].UnderlyingStatus != policy.StatusFail ||
		rs[0].Exemption == nil || rs[0].Exemption.ID != id || rs[0].Exemption.Owner != "alice@example.com" ||
		rs[1].Status != policy.StatusFail || rs[1].Exemption != nil {
		t.Fatalf("web results while exempt: %+v", rs)
	}
	sameTime(t, "exemption expiry", rs[0].Exemption.ExpiresAt, at(24*time.Hour))
	want := []store.PolicyCounts{{PolicyID: "p", Fail: 1, Exempt: 1}, {PolicyID: "q", Fail: 1}}
	if got := compliance(t, st, during); !reflect.DeepEqual(got, want) {
		t.Errorf("compliance while exempt = %+v, want %+v", got, want)
	}
	failing, err := st.PolicyResults(ctx, store.ResultQuery{PolicyID: "p", Status: policy.StatusFail, At: during})
	if err != nil || len(failing) != 1 || failing[0].HostID != db {
		t.Errorf("failing results of p = %+v, %v; want db only", failing, err)
	}
	exempt, err := st.PolicyResults(ctx, store.ResultQuery{PolicyID: "p", Status: policy.StatusExempt, At: during})
	if err != nil || len(exempt) != 1 || exempt[0].HostID != web || exempt[0].UnderlyingStatus != policy.StatusFail {
		t.Errorf("exempt results of p = %+v, %v; want web", exempt, err)
	}
	// Expired: nothing to run, it just stops applying.
	if got := hostStatuses(t, st, web, after); !slices.Equal(got, []string{"p fail", "q fail"}) {
		t.Errorf("web after expiry: %q", got)
	}
	if got := compliance(t, st, after); got[0].Exempt != 0 || got[0].Fail != 2 {
		t.Errorf("compliance after expiry = %+v", got)
	}
	// Revoked: stops applying at once, and only once.
	if err := st.RevokeExemption(ctx, id, "bob", at(3*time.Hour)); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got := hostStatuses(t, st, web, at(4*time.Hour)); !slices.Equal(got, []string{"p fail", "q fail"}) {
		t.Errorf("web after revoke: %q", got)
	}
	if err := st.RevokeExemption(ctx, id, "bob", at(4*time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("revoke twice: %v, want ErrConflict", err)
	}
	if err := st.RevokeExemption(ctx, id+100, "bob", at(4*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown: %v, want ErrNotFound", err)
	}
	e, err := st.GetExemption(ctx, id)
	if err != nil || e.RevokedBy != "bob" || e.HostID != web || e.Labels != nil || e.CreatedBy != "ci" {
		t.Errorf("revoked exemption = %+v, %v", e, err)
	}
	sameTime(t, "revoked at", e.RevokedAt, at(3*time.Hour))
	sameTime(t, "created at", e.CreatedAt, at(time.Hour))

	entries, err := st.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(entries) < 3 {
		t.Fatalf("audit = %+v, %v", entries, err)
	}
	revoked, added := entries[0], entries[1]
	if revoked.Action != store.AuditExemptionRevoked || revoked.Actor != "bob" ||
		added.Action != store.AuditExemptionAdded || added.Actor != "ci" || added.Subject != revoked.Subject {
		t.Errorf("audit rows %+v, %+v", revoked, added)
	}
	var detail store.Exemption
	if err := json.Unmarshal(added.Detail, &detail); err != nil || detail.ID != id || detail.Reason != "vendor appliance" ||
		detail.PolicyID != "p" || detail.HostID != web || !detail.ExpiresAt.Equal(at(24*time.Hour)) {
		t.Errorf("exemption audit detail %s (%v)", added.Detail, err)
	}
}

func testLabelExemptions(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), spec("p", "true"))
	hosts := map[string]map[string]string{
		"lab-a":  {"env": "lab", "team": "qa"},
		"lab-b":  {"env": "lab", "team": "dev"},
		"prod":   {"env": "prod", "team": "qa"},
		"nolabs": nil,
	}
	ids := map[string]int64{}
	for name, labels := range hosts {
		id := enroll(t, st, name)
		ids[name] = id
		if labels != nil {
			if err := st.SetHostLabels(ctx, id, labels, "ci"); err != nil {
				t.Fatalf("set labels: %v", err)
			}
		}
		applyResults(t, st, store.ResultBatch{HostID: id, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, at(time.Minute))}})
	}
	exemptNames := func(at time.Time) []string {
		t.Helper()
		rs, err := st.PolicyResults(ctx, store.ResultQuery{PolicyID: "p", Status: policy.StatusExempt, At: at})
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Hostname)
		}
		slices.Sort(out)
		return out
	}
	// Every label of the exemption must match.
	both := addExemption(t, st, store.Exemption{PolicyID: "p", Labels: map[string]string{"env": "lab", "team": "qa"}, ExpiresAt: at(10 * time.Hour)})
	if got := exemptNames(at(time.Hour)); !slices.Equal(got, []string{"lab-a"}) {
		t.Errorf("exempt by env=lab,team=qa: %q, want lab-a", got)
	}
	lab := addExemption(t, st, store.Exemption{PolicyID: "p", Labels: map[string]string{"env": "lab"}, ExpiresAt: at(5 * time.Hour)})
	if got := exemptNames(at(time.Hour)); !slices.Equal(got, []string{"lab-a", "lab-b"}) {
		t.Errorf("exempt by env=lab too: %q, want lab-a lab-b", got)
	}
	rs := hostResults(t, st, ids["lab-a"], at(time.Hour))
	if len(rs) != 1 || rs[0].Exemption == nil || rs[0].Exemption.ID != min(both, lab) ||
		!reflect.DeepEqual(rs[0].Exemption.Labels, map[string]string{"env": "lab", "team": "qa"}) {
		t.Errorf("lab-a result %+v: want the lowest matching exemption with its labels", rs)
	}
	if got := compliance(t, st, at(time.Hour)); len(got) != 1 || got[0].Exempt != 2 || got[0].Fail != 2 {
		t.Errorf("compliance = %+v, want 2 exempt 2 fail", got)
	}
	// env=lab expires first; the two-label exemption still covers lab-a.
	if got := exemptNames(at(6 * time.Hour)); !slices.Equal(got, []string{"lab-a"}) {
		t.Errorf("after env=lab expired: %q, want lab-a", got)
	}
	// Labels changing move hosts in and out at once.
	if err := st.SetHostLabels(ctx, ids["prod"], map[string]string{"env": "lab", "team": "qa"}, "ci"); err != nil {
		t.Fatal(err)
	}
	if got := exemptNames(at(6 * time.Hour)); !slices.Equal(got, []string{"lab-a", "prod"}) {
		t.Errorf("after relabelling prod: %q, want lab-a prod", got)
	}
}

func testExemptionRefused(t *testing.T, st store.Store) {
	ctx := t.Context()
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("p", "true"))
	ok := store.Exemption{PolicyID: "p", HostID: host, Reason: "r", Owner: "o", CreatedBy: "ci", ExpiresAt: at(time.Hour)}
	cases := []struct {
		name   string
		change func(e *store.Exemption)
		is     error
	}{
		{"unknown policy", func(e *store.Exemption) { e.PolicyID = "nope" }, store.ErrNotFound},
		{"unknown host", func(e *store.Exemption) { e.HostID = host + 100 }, store.ErrNotFound},
		{"no reason", func(e *store.Exemption) { e.Reason = "" }, nil},
		{"no owner", func(e *store.Exemption) { e.Owner = "" }, nil},
		{"no expiry", func(e *store.Exemption) { e.ExpiresAt = time.Time{} }, nil},
		{"host and labels", func(e *store.Exemption) { e.Labels = map[string]string{"a": "b"} }, nil},
		{"neither host nor labels", func(e *store.Exemption) { e.HostID = 0 }, nil},
		{"empty label key", func(e *store.Exemption) { e.HostID, e.Labels = 0, map[string]string{"": "b"} }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := ok
			c.change(&e)
			_, err := st.AddExemption(ctx, e)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
				t.Errorf("add = %v, want an error (%v)", err, c.is)
			}
		})
	}
	if all, err := st.ListExemptions(ctx, store.ExemptionQuery{All: true}); err != nil || len(all) != 0 {
		t.Errorf("refused exemptions stored: %+v, %v", all, err)
	}
	if _, err := st.GetExemption(ctx, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown exemption: %v, want ErrNotFound", err)
	}
}

func testListExemptions(t *testing.T, st store.Store) {
	ctx := t.Context()
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("p", "true"), spec("q", "true"))
	live := addExemption(t, st, store.Exemption{PolicyID: "p", HostID: host, ExpiresAt: at(10 * time.Hour)})
	expired := addExemption(t, st, store.Exemption{PolicyID: "p", HostID: host, ExpiresAt: at(time.Hour)})
	revoked := addExemption(t, st, store.Exemption{PolicyID: "q", HostID: host, ExpiresAt: at(10 * time.Hour)})
	other := addExemption(t, st, store.Exemption{PolicyID: "q", Labels: map[string]string{"env": "lab"}, ExpiresAt: at(10 * time.Hour)})
	if err := st.RevokeExemption(ctx, revoked, "ci", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	list := func(q store.ExemptionQuery) []int64 {
		t.Helper()
		es, err := st.ListExemptions(ctx, q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	cases := []struct {
		name string
		q    store.ExemptionQuery
		want []int64
	}{
		{"active", store.ExemptionQuery{At: at(2 * time.Hour)}, []int64{live, other}},
		{"all", store.ExemptionQuery{All: true, At: at(2 * time.Hour)}, []int64{live, expired, revoked, other}},
		{"one policy", store.ExemptionQuery{All: true, PolicyID: "q"}, []int64{revoked, other}},
		{"page", store.ExemptionQuery{All: true, AfterID: live, Limit: 2}, []int64{expired, revoked}},
	}
	for _, c := range cases {
		if got := list(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func testHostLabels(t *testing.T, st store.Store) {
	ctx := t.Context()
	host := enroll(t, st, "web-1")
	get := func() map[string]string {
		t.Helper()
		l, err := st.HostLabels(ctx, host)
		if err != nil {
			t.Fatalf("host labels: %v", err)
		}
		return l
	}
	if l := get(); l == nil || len(l) != 0 {
		t.Errorf("labels of a new host = %#v, want an empty map", l)
	}
	for _, labels := range []map[string]string{{"env": "lab", "team": "qa"}, {"env": "prod"}, {"env": "prod"}, {}} {
		if err := st.SetHostLabels(ctx, host, labels, "ci"); err != nil {
			t.Fatalf("set labels: %v", err)
		}
		if got := get(); !reflect.DeepEqual(got, labels) {
			t.Errorf("labels = %v, want %v", got, labels)
		}
	}
	// Read together: a labelled host, one without labels (an empty map)
	// and an unknown host (absent).
	bare := enroll(t, st, "web-2")
	if err := st.SetHostLabels(ctx, host, map[string]string{"env": "lab", "team": "qa"}, "ci"); err != nil {
		t.Fatalf("set labels: %v", err)
	}
	all, err := st.HostsLabels(ctx, []int64{host, bare, host + 100})
	want := map[int64]map[string]string{host: {"env": "lab", "team": "qa"}, bare: {}}
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Errorf("labels read together = %v, %v; want %v", all, err, want)
	}
	if err := st.SetHostLabels(ctx, host, map[string]string{}, "ci"); err != nil {
		t.Fatalf("set labels: %v", err)
	}
	// Setting the same labels again is not a change.
	entries, err := st.ListAudit(ctx, store.AuditQuery{Action: store.AuditHostLabelsSet})
	if err != nil || len(entries) != 5 {
		t.Errorf("label audit rows = %d, %v; want 5", len(entries), err)
	}
	if _, err := st.HostLabels(ctx, host+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("labels of unknown host: %v, want ErrNotFound", err)
	}
	if err := st.SetHostLabels(ctx, host+100, map[string]string{"a": "b"}, "ci"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("set labels of unknown host: %v, want ErrNotFound", err)
	}
}

func testAuditPages(t *testing.T, st store.Store) {
	ctx := t.Context()
	for i := range 5 {
		applyPolicies(t, st, at(time.Duration(i)*time.Minute), spec("p", string(rune('a'+i))+` == "x"`))
	}
	first, err := st.ListAudit(ctx, store.AuditQuery{Limit: 2})
	if err != nil || len(first) != 2 || first[0].ID <= first[1].ID {
		t.Fatalf("first page %+v, %v; want 2, newest first", first, err)
	}
	rest, err := st.ListAudit(ctx, store.AuditQuery{AfterID: first[1].ID})
	if err != nil || len(rest) != 3 || rest[0].ID >= first[1].ID {
		t.Errorf("rest %+v, %v; want the 3 older rows", rest, err)
	}
	if none, _ := st.ListAudit(ctx, store.AuditQuery{Action: store.AuditExemptionAdded}); len(none) != 0 {
		t.Errorf("exemption rows: %+v", none)
	}
	if _, err := st.CreateAPIToken(ctx, store.NewAPIToken{Name: "deploy-bot", Hash: "d1", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if name, err := st.AdminTokenName(ctx, "d1"); err != nil || name != "deploy-bot" {
		t.Errorf("token name = %q, %v", name, err)
	}
	if _, err := st.RevokeAPIToken(ctx, "deploy-bot", "test", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AdminTokenName(ctx, "d1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked token name: %v, want ErrNotFound", err)
	}
}
