package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

var credentialTests = []subtest{
	{"api tokens: roles, expiry, last use, revoke by name", testAPITokens},
	{"enroll secrets: expiry, use limit, revoke by name", testEnrollSecrets},
	{"retired host", testRetireHost},
	{"deleted host", testDeleteHost},
}

func lifecycleAudit(t *testing.T, st store.Store) []string {
	t.Helper()
	entries, err := st.ListAudit(t.Context(), store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	var out []string
	for _, e := range slices.Backward(entries) {
		out = append(out, e.Action+" "+e.Subject+" by "+e.Actor)
	}
	return out
}

func testAPITokens(t *testing.T, st store.Store) {
	ctx := t.Context()
	view, err := st.CreateAPIToken(ctx, store.NewAPIToken{Name: "grafana", Hash: "v1", Role: store.RoleViewer,
		ExpiresAt: at(24 * time.Hour), Actor: "alice", At: at(0)})
	if err != nil {
		t.Fatalf("create viewer token: %v", err)
	}
	if view.ID <= 0 || view.Name != "grafana" || view.Role != store.RoleViewer || !view.CreatedAt.Equal(at(0)) ||
		!view.ExpiresAt.Equal(at(24*time.Hour)) || !view.LastUsedAt.IsZero() || !view.RevokedAt.IsZero() {
		t.Errorf("created %+v", view)
	}
	if _, err := st.CreateAPIToken(ctx, store.NewAPIToken{Name: "grafana", Hash: "v2", Role: store.RoleAdmin}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second live token named grafana: %v, want ErrConflict", err)
	}
	if _, err := st.CreateAPIToken(ctx, store.NewAPIToken{Name: "ci", Hash: "c1", Role: store.RoleAdmin, At: at(time.Minute)}); err != nil {
		t.Fatalf("create admin token: %v", err)
	}

	// Expiry is exclusive: valid until the instant before.
	if got, err := st.APITokenByHash(ctx, "v1", at(24*time.Hour-time.Second)); err != nil || got.ID != view.ID || got.Role != store.RoleViewer {
		t.Errorf("before expiry: %+v, %v", got, err)
	}
	if _, err := st.APITokenByHash(ctx, "v1", at(24*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("at expiry: %v, want ErrNotFound", err)
	}
	if _, err := st.APITokenByHash(ctx, "nope", at(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}

	// Last use only moves forward.
	for _, d := range []time.Duration{2 * time.Hour, time.Hour} {
		if err := st.TouchAPIToken(ctx, view.ID, at(d)); err != nil {
			t.Fatalf("touch: %v", err)
		}
	}
	if got, _ := st.APITokenByHash(ctx, "v1", at(3*time.Hour)); !got.LastUsedAt.Equal(at(2 * time.Hour)) {
		t.Errorf("last used %v, want %v", got.LastUsedAt, at(2*time.Hour))
	}

	revoked, err := st.RevokeAPIToken(ctx, "grafana", "bob", at(4*time.Hour))
	if err != nil || revoked.ID != view.ID || !revoked.RevokedAt.Equal(at(4*time.Hour)) {
		t.Fatalf("revoke = %+v, %v", revoked, err)
	}
	if _, err := st.RevokeAPIToken(ctx, "grafana", "bob", at(5*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke again: %v, want ErrNotFound (no live token of that name)", err)
	}
	if _, err := st.APITokenByHash(ctx, "v1", at(4*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked token: %v, want ErrNotFound", err)
	}
	if !tokenValid(t, st, "c1") {
		t.Error("revoking one token revoked another")
	}
	// A revoked name is free again.
	again, err := st.CreateAPIToken(ctx, store.NewAPIToken{Name: "grafana", Hash: "v3", Role: store.RoleViewer, At: at(5 * time.Hour)})
	if err != nil {
		t.Fatalf("reuse a revoked name: %v", err)
	}

	live, err := st.ListAPITokens(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.ListAPITokens(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	names := func(ts []store.APIToken) []string {
		var out []string
		for _, tok := range ts {
			out = append(out, fmt.Sprintf("%s#%d", tok.Name, tok.ID))
		}
		return out
	}
	ci := live[0].ID
	if want := []string{fmt.Sprintf("ci#%d", ci), fmt.Sprintf("grafana#%d", again.ID)}; !reflect.DeepEqual(names(live), want) {
		t.Errorf("live tokens %q, want %q", names(live), want)
	}
	if want := []string{fmt.Sprintf("ci#%d", ci), fmt.Sprintf("grafana#%d", view.ID), fmt.Sprintf("grafana#%d", again.ID)}; !reflect.DeepEqual(names(all), want) {
		t.Errorf("all tokens %q, want %q", names(all), want)
	}
	want := []string{"token_created grafana by alice", "token_created ci by ", "token_revoked grafana by bob", "token_created grafana by "}
	if got := lifecycleAudit(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
}

func testEnrollSecrets(t *testing.T, st store.Store) {
	ctx := t.Context()
	lab, err := st.CreateEnrollSecret(ctx, store.NewEnrollSecret{Name: "lab", Hash: "s1", MaxUses: 2, Actor: "alice", At: at(0)})
	if err != nil || lab.MaxUses != 2 || lab.Uses != 0 {
		t.Fatalf("create = %+v, %v", lab, err)
	}
	if _, err := st.CreateEnrollSecret(ctx, store.NewEnrollSecret{Name: "lab", Hash: "s9"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second live secret named lab: %v, want ErrConflict", err)
	}
	// Expired a minute ago (the database's clock decides).
	if _, err := st.CreateEnrollSecret(ctx, store.NewEnrollSecret{Name: "old", Hash: "s2", ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnrollSecretID(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired secret: %v, want ErrNotFound", err)
	}
	id, err := st.EnrollSecretID(ctx, "s1")
	if err != nil || id != lab.ID {
		t.Fatalf("secret id = %d, %v; want %d", id, err, lab.ID)
	}
	var hosts []int64
	for i := range 3 {
		h, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("lab-key-%d", i), Hostname: "lab", EnrollSecretID: id, EnrolledAt: t0})
		if i < 2 && err != nil {
			t.Fatalf("enrollment %d: %v", i, err)
		}
		if i == 2 && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("third enrollment with a 2-use secret: %v, want ErrNotFound", err)
		}
		hosts = append(hosts, h)
	}
	list, err := st.ListEnrollSecrets(ctx, false)
	if err != nil || len(list) != 2 || list[0].Name != "lab" || list[0].Uses != 2 || list[1].Name != "old" {
		t.Errorf("list = %+v, %v; want lab with 2 uses, then old", list, err)
	}
	// Revoking a secret leaves its hosts alone.
	if _, err := st.RevokeEnrollSecret(ctx, "lab", "bob", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnrollSecretID(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked secret: %v, want ErrNotFound", err)
	}
	if _, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "late", EnrollSecretID: id, EnrolledAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enrollment racing a revoke: %v, want ErrNotFound", err)
	}
	if h := byNodeKey(t, st, "lab-key-0"); !h.RetiredAt.IsZero() {
		t.Errorf("host enrolled with a revoked secret: %+v", h)
	}
	if all, _ := st.ListEnrollSecrets(ctx, true); len(all) != 2 || all[0].RevokedAt.IsZero() {
		t.Errorf("with revoked: %+v", all)
	}
	if live, _ := st.ListEnrollSecrets(ctx, false); len(live) != 1 || live[0].Name != "old" {
		t.Errorf("live after revoke: %+v", live)
	}
	want := []string{"enroll_secret_created lab by alice", "enroll_secret_created old by ", "enroll_secret_revoked lab by bob"}
	if got := lifecycleAudit(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
}

func testRetireHost(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), spec("a", "true"))
	keep := enroll(t, st, "keep")
	gone, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "retire-me", Hostname: "gone", EnrolledAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	applyResults(t, st,
		store.ResultBatch{HostID: keep, Revision: 1, Results: []policy.Result{result("a", policy.StatusPass, at(time.Minute))}},
		store.ResultBatch{HostID: gone, Revision: 1, Results: []policy.Result{result("a", policy.StatusFail, at(time.Minute))}})
	goneHost, err := st.GetHost(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := st.FleetCounts(ctx, at(0))
	if err != nil {
		t.Fatal(err)
	}
	hostsBefore := int64(0)
	for _, c := range fc.Hosts {
		hostsBefore += c.Count
	}

	h, err := st.RetireHost(ctx, gone, "alice", at(time.Hour))
	if err != nil || !h.RetiredAt.Equal(at(time.Hour)) || h.ID != gone {
		t.Fatalf("retire = %+v, %v", h, err)
	}
	if _, err := st.RetireHost(ctx, gone, "alice", at(2*time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("retire twice: %v, want ErrConflict", err)
	}
	if _, err := st.RetireHost(ctx, gone+1000, "alice", at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retire unknown: %v, want ErrNotFound", err)
	}
	// The node key is told apart from an unknown one: the retired host
	// is there, marked retired.
	if hs, err := st.HostsByNodeKeys(ctx, []string{"retire-me", "no-such-key"}); err != nil || len(hs) != 1 ||
		hs["retire-me"].ID != gone || !hs["retire-me"].RetiredAt.Equal(at(time.Hour)) {
		t.Errorf("retired host read by its key with others: %+v, %v", hs, err)
	}
	// Lists, counts and fleet metrics leave it out; GetHost still shows it.
	listed, err := st.ListHosts(ctx, store.HostPage{Limit: 100})
	if err != nil || len(listed) != 1 || listed[0].ID != keep {
		t.Errorf("hosts listed %+v, %v; want only %d", listed, err, keep)
	}
	if all, _ := st.ListHosts(ctx, store.HostPage{Limit: 100, Retired: true}); len(all) != 2 {
		t.Errorf("with retired: %d hosts, want 2", len(all))
	}
	if got, err := st.GetHost(ctx, gone); err != nil || got.RetiredAt.IsZero() || got.Hostname != goneHost.Hostname {
		t.Errorf("get retired = %+v, %v", got, err)
	}
	if got := compliance(t, st, at(2*time.Hour)); !reflect.DeepEqual(got, []store.PolicyCounts{{PolicyID: "a", Pass: 1}}) {
		t.Errorf("compliance after retire = %+v, want the kept host's pass only", got)
	}
	fc, err = st.FleetCounts(ctx, at(0))
	if err != nil {
		t.Fatal(err)
	}
	hostsAfter := int64(0)
	for _, c := range fc.Hosts {
		hostsAfter += c.Count
	}
	if hostsAfter != hostsBefore-1 {
		t.Errorf("fleet counts %d hosts after retiring one of %d", hostsAfter, hostsBefore)
	}
	// Results that were in flight for it are not stored.
	if _, err := st.ApplyResults(ctx, []store.ResultBatch{{HostID: gone, Revision: 1,
		Results: []policy.Result{result("a", policy.StatusFail, at(3*time.Hour))}}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("results of a retired host: %v, want ErrNotFound", err)
	}
	ids, err := st.RetiredSince(ctx, at(time.Hour))
	if err != nil || !reflect.DeepEqual(ids, []int64{gone}) {
		t.Errorf("retired since = %v, %v; want [%d]", ids, err, gone)
	}
	if ids, _ := st.RetiredSince(ctx, at(time.Hour+time.Second)); len(ids) != 0 {
		t.Errorf("retired since later = %v, want none", ids)
	}
	want := []string{"policy_applied  by ci", fmt.Sprintf("host_retired %d by alice", gone)}
	if got := lifecycleAudit(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
}

func testDeleteHost(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), spec("a", "true"))
	keep := enroll(t, st, "keep")
	gone := enroll(t, st, "gone")
	applyResults(t, st,
		store.ResultBatch{HostID: keep, Revision: 1, Results: []policy.Result{result("a", policy.StatusPass, at(time.Minute))}},
		store.ResultBatch{HostID: gone, Revision: 1, Results: []policy.Result{result("a", policy.StatusFail, at(time.Minute))}})
	if err := st.SetHostLabels(ctx, gone, map[string]string{"team": "ops"}, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteHost(ctx, gone, "alice", at(time.Hour)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := st.DeleteHost(ctx, gone, "alice", at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v, want ErrNotFound", err)
	}
	if _, err := st.GetHost(ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get deleted: %v, want ErrNotFound", err)
	}
	if got := compliance(t, st, at(2*time.Hour)); !reflect.DeepEqual(got, []store.PolicyCounts{{PolicyID: "a", Pass: 1}}) {
		t.Errorf("compliance after delete = %+v", got)
	}
	if _, err := st.HostResults(ctx, gone, at(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("results of deleted host: %v, want ErrNotFound", err)
	}
	got := lifecycleAudit(t, st)
	if len(got) == 0 || got[len(got)-1] != fmt.Sprintf("host_deleted %d by alice", gone) {
		t.Errorf("audit %q, want host_deleted last", got)
	}
}
