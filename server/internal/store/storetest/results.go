package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

var resultTests = []subtest{
	{"transitions and since", testResultTransitions},
	{"the same batch twice", testResultsIdempotent},
	{"older results and stale revisions", testResultsStale},
	{"several batches of a host in one call", testResultsWithinCall},
	{"removed results", testResultsRemoved},
	{"unknown host, unknown policy, invalid result", testResultsRefused},
	{"compliance counts", testComplianceCounts},
	{"compliance counts follow every change", testComplianceCountsFollow},
	{"policy results pages and filters", testPolicyResultsPages},
	{"host results", testHostResults},
	{"odd evidence and errors", testResultsOddValues},
	{"last checked", testLastChecked},
	{"parameters", testResultParameters},
}

func result(id string, st policy.Status, checked time.Time) policy.Result {
	return policy.Result{PolicyID: id, Status: st, CheckedAt: checked, Duration: 1500 * time.Microsecond,
		Evidence: []policy.Evidence{{Check: "check.expr", Passed: st == policy.StatusPass, Detail: string(st) + " at " + checked.Format(time.RFC3339)}}}
}

func applyResults(t *testing.T, st store.Store, batches ...store.ResultBatch) []store.Transition {
	t.Helper()
	ts, err := st.ApplyResults(t.Context(), batches)
	if err != nil {
		t.Fatalf("apply results: %v", err)
	}
	return ts
}

func transitions(t *testing.T, st store.Store, q store.TransitionQuery) []store.Transition {
	t.Helper()
	ts, err := st.ListTransitions(t.Context(), q)
	if err != nil {
		t.Fatalf("list transitions: %v", err)
	}
	return ts
}

// transitionKeys renders transitions as "policy from>to" in the order given.
func transitionKeys(ts []store.Transition) []string {
	out := []string{}
	for _, tr := range ts {
		out = append(out, fmt.Sprintf("%s %s>%s", tr.PolicyID, tr.From, tr.To))
	}
	return out
}

func hostResults(t *testing.T, st store.Store, host int64, at time.Time) []store.HostResult {
	t.Helper()
	rs, err := st.HostResults(t.Context(), host, at)
	if err != nil {
		t.Fatalf("host results: %v", err)
	}
	return rs
}

// hostStatuses renders a host's results as "policy status".
func hostStatuses(t *testing.T, st store.Store, host int64, at time.Time) []string {
	t.Helper()
	out := []string{}
	for _, r := range hostResults(t, st, host, at) {
		out = append(out, string(r.PolicyID)+" "+string(r.Status))
	}
	return out
}

func compliance(t *testing.T, st store.Store, at time.Time) []store.PolicyCounts {
	t.Helper()
	cs, err := st.Compliance(t.Context(), at)
	if err != nil {
		t.Fatalf("compliance: %v", err)
	}
	// Each policy's own counts are the same, read alone.
	for _, want := range append(cs, store.PolicyCounts{PolicyID: "no-such-policy"}) {
		got, err := st.PolicyCompliance(t.Context(), want.PolicyID, at)
		if err != nil {
			t.Fatalf("policy %s compliance: %v", want.PolicyID, err)
		}
		if got != want {
			t.Errorf("policy %s compliance = %+v, want %+v as Compliance counts it", want.PolicyID, got, want)
		}
	}
	return cs
}

func testResultTransitions(t *testing.T, st store.Store) {
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("ssh", "true"))
	steps := []struct {
		status    policy.Status
		at        time.Duration
		wantSince time.Duration
		wantNew   []string // transitions this step records
	}{
		{policy.StatusPass, time.Minute, time.Minute, []string{"ssh >pass"}},
		{policy.StatusFail, 2 * time.Minute, 2 * time.Minute, []string{"ssh pass>fail"}},
		{policy.StatusFail, 3 * time.Minute, 2 * time.Minute, []string{}},
		{policy.StatusPass, 4 * time.Minute, 4 * time.Minute, []string{"ssh fail>pass"}},
	}
	for i, s := range steps {
		got := applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1,
			Results: []policy.Result{result("ssh", s.status, at(s.at))}})
		if keys := transitionKeys(got); !slices.Equal(keys, s.wantNew) {
			t.Errorf("step %d: transitions %q, want %q", i, keys, s.wantNew)
		}
		rs := hostResults(t, st, host, at(time.Hour))
		if len(rs) != 1 {
			t.Fatalf("step %d: %d results, want 1", i, len(rs))
		}
		r := rs[0]
		if r.Status != s.status || r.UnderlyingStatus != "" || r.Exemption != nil || r.PolicyRevision != 1 {
			t.Errorf("step %d: result %+v, want status %s", i, r, s.status)
		}
		sameTime(t, fmt.Sprintf("step %d since", i), r.Since, at(s.wantSince))
		sameTime(t, fmt.Sprintf("step %d checked at", i), r.CheckedAt, at(s.at))
		if want := result("ssh", s.status, at(s.at)); !reflect.DeepEqual(r.Evidence, want.Evidence) || r.Duration != want.Duration {
			t.Errorf("step %d: evidence %+v duration %v, want %+v %v", i, r.Evidence, r.Duration, want.Evidence, want.Duration)
		}
	}
	// The history: the first result, then exactly two status changes.
	all := transitions(t, st, store.TransitionQuery{HostID: host})
	if keys, want := transitionKeys(all), []string{"ssh fail>pass", "ssh pass>fail", "ssh >pass"}; !slices.Equal(keys, want) {
		t.Fatalf("history %q, want %q (newest first)", keys, want)
	}
	changes := 0
	for _, tr := range all {
		if tr.From != "" {
			changes++
		}
	}
	if changes != 2 {
		t.Errorf("%d status changes recorded, want 2", changes)
	}
	sameTime(t, "newest transition", all[0].At, at(4*time.Minute))
	if all[1].Evidence[0].Detail != "fail at "+at(2*time.Minute).Format(time.RFC3339) {
		t.Errorf("transition evidence %+v, want the failing result's", all[1].Evidence)
	}
	// Cursor and filters.
	page := transitions(t, st, store.TransitionQuery{PolicyID: "ssh", AfterAt: all[0].At, AfterID: all[0].ID, Limit: 1})
	if len(page) != 1 || page[0].ID != all[1].ID {
		t.Errorf("page after the newest = %+v, want %d", page, all[1].ID)
	}
	if since := transitions(t, st, store.TransitionQuery{Since: at(2 * time.Minute)}); len(since) != 2 {
		t.Errorf("%d transitions since minute 2, want 2", len(since))
	}
	if none := transitions(t, st, store.TransitionQuery{PolicyID: "other"}); len(none) != 0 {
		t.Errorf("transitions of another policy: %+v", none)
	}
}

func testResultsIdempotent(t *testing.T, st store.Store) {
	h1, h2 := enroll(t, st, "a"), enroll(t, st, "b")
	applyPolicies(t, st, at(0), spec("p", "true"), spec("q", "true"))
	batches := []store.ResultBatch{
		{HostID: h1, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, at(time.Minute)), result("q", policy.StatusPass, at(time.Minute))}},
		{HostID: h2, Revision: 1, Results: []policy.Result{result("p", policy.StatusPass, at(time.Minute))}},
	}
	if got := applyResults(t, st, batches...); len(got) != 3 {
		t.Fatalf("first apply recorded %d transitions, want 3", len(got))
	}
	if got := applyResults(t, st, batches...); len(got) != 0 {
		t.Errorf("the same batches again recorded %q", transitionKeys(got))
	}
	if all := transitions(t, st, store.TransitionQuery{}); len(all) != 3 {
		t.Errorf("%d transition rows, want 3", len(all))
	}
}

func testResultsStale(t *testing.T, st store.Store) {
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("p", "true"))
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, at(2*time.Minute))}})
	// An older result arriving late is ignored.
	if got := applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1,
		Results: []policy.Result{result("p", policy.StatusPass, at(time.Minute))}}); len(got) != 0 {
		t.Errorf("older result recorded %q", transitionKeys(got))
	}
	if got := hostStatuses(t, st, host, at(time.Hour)); !slices.Equal(got, []string{"p fail"}) {
		t.Errorf("after an older result: %q, want p fail", got)
	}
	// The policy changes (revision 2): results evaluated against revision
	// 1 no longer count, results against 2 do.
	applyPolicies(t, st, at(3*time.Minute), spec("p", "false"))
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusPass, at(4*time.Minute))}})
	if got := hostStatuses(t, st, host, at(time.Hour)); !slices.Equal(got, []string{"p fail"}) {
		t.Errorf("after a stale revision's result: %q, want p fail", got)
	}
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 2, Results: []policy.Result{result("p", policy.StatusPass, at(5*time.Minute))}})
	rs := hostResults(t, st, host, at(time.Hour))
	if len(rs) != 1 || rs[0].Status != policy.StatusPass || rs[0].PolicyRevision != 2 {
		t.Errorf("after a current result: %+v, want pass at revision 2", rs)
	}
}

func testResultsWithinCall(t *testing.T, st store.Store) {
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("p", "true"))
	got := applyResults(t, st,
		store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusPass, at(time.Minute))}},
		store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, at(2*time.Minute))}},
		store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, at(3*time.Minute))}},
	)
	if keys, want := transitionKeys(got), []string{"p >pass", "p pass>fail"}; !slices.Equal(keys, want) {
		t.Errorf("transitions %q, want %q", keys, want)
	}
	if len(got) == 2 && (got[0].ID <= 0 || got[1].ID <= got[0].ID) {
		t.Errorf("transition ids %d, %d: want positive and increasing in batch order", got[0].ID, got[1].ID)
	}
	stored := transitions(t, st, store.TransitionQuery{})
	if len(stored) != 2 || len(got) != 2 || stored[0].ID != got[1].ID || stored[1].ID != got[0].ID {
		t.Errorf("stored transitions %+v do not match the returned %+v", stored, got)
	}
	rs := hostResults(t, st, host, at(time.Hour))
	if len(rs) != 1 {
		t.Fatalf("results %+v", rs)
	}
	sameTime(t, "since", rs[0].Since, at(2*time.Minute))
	sameTime(t, "checked at", rs[0].CheckedAt, at(3*time.Minute))
}

func testResultsRemoved(t *testing.T, st store.Store) {
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("p", "true"), spec("q", "true"))
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		result("p", policy.StatusFail, at(time.Minute)), result("q", policy.StatusFail, at(time.Minute))}})
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Removed: []string{"q", "never-had"}})
	if got := hostStatuses(t, st, host, at(time.Hour)); !slices.Equal(got, []string{"p fail"}) {
		t.Errorf("after removing q: %q", got)
	}
	// A result after removal is a first result again.
	got := applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("q", policy.StatusFail, at(2*time.Minute))}})
	if keys := transitionKeys(got); !slices.Equal(keys, []string{"q >fail"}) {
		t.Errorf("result after removal recorded %q", keys)
	}
}

func testResultsRefused(t *testing.T, st store.Store) {
	ctx := t.Context()
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("p", "true"))
	good := store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, at(time.Minute))}}
	// Results of a policy that does not exist (deleted meanwhile) are dropped.
	got := applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		result("gone", policy.StatusFail, at(time.Minute)), result("p", policy.StatusPass, at(time.Minute))}})
	if keys := transitionKeys(got); !slices.Equal(keys, []string{"p >pass"}) {
		t.Errorf("transitions %q, want only p", keys)
	}
	cases := []struct {
		name  string
		batch store.ResultBatch
		is    error
	}{
		{"unknown host", store.ResultBatch{HostID: host + 100, Revision: 1, Results: good.Results}, store.ErrNotFound},
		{"exempt status", store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusExempt, at(time.Hour))}}, nil},
		{"empty status", store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", "", at(time.Hour))}}, nil},
		{"no time", store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", policy.StatusFail, time.Time{})}}, nil},
		{"no policy id", store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("", policy.StatusFail, at(time.Hour))}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The good batch goes first: a refused call applies nothing.
			_, err := st.ApplyResults(ctx, []store.ResultBatch{{HostID: host, Revision: 1,
				Results: []policy.Result{result("p", policy.StatusFail, at(time.Hour))}}, c.batch})
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("apply = %v, want an error (%v)", err, c.is)
			}
			if got := hostStatuses(t, st, host, at(2*time.Hour)); !slices.Equal(got, []string{"p pass"}) {
				t.Errorf("after a refused call: %q, want p pass unchanged", got)
			}
		})
	}
}

func testComplianceCounts(t *testing.T, st store.Store) {
	applyPolicies(t, st, at(0), spec("a", "true"), spec("b", "true"), spec("c", "true"))
	statuses := []policy.Status{policy.StatusPass, policy.StatusFail, policy.StatusFail, policy.StatusNotApplicable, policy.StatusError}
	var batches []store.ResultBatch
	for i, s := range statuses {
		host := enroll(t, st, fmt.Sprintf("h%d", i))
		batches = append(batches, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
			result("a", s, at(time.Minute)), result("b", policy.StatusPass, at(time.Minute))}})
	}
	applyResults(t, st, batches...)
	want := []store.PolicyCounts{
		{PolicyID: "a", Pass: 1, Fail: 2, NotApplicable: 1, Error: 1},
		{PolicyID: "b", Pass: 5},
	}
	got := compliance(t, st, at(time.Hour))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compliance = %+v, want %+v (c has no results and is left out)", got, want)
	}
	if got[0].Total() != 5 {
		t.Errorf("total = %d, want 5", got[0].Total())
	}
}

func testPolicyResultsPages(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), spec("p", "true"))
	var hosts []int64
	for i := range 7 {
		host := enroll(t, st, fmt.Sprintf("host-%d", i))
		hosts = append(hosts, host)
		s := policy.StatusPass
		if i%2 == 0 {
			s = policy.StatusFail
		}
		applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{result("p", s, at(time.Duration(i)*time.Minute))}})
	}
	page := func(q store.ResultQuery) []string {
		t.Helper()
		rs, err := st.PolicyResults(ctx, q)
		if err != nil {
			t.Fatalf("policy results %+v: %v", q, err)
		}
		out := []string{}
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s %s", r.Hostname, r.Status))
		}
		return out
	}
	q := store.ResultQuery{PolicyID: "p", At: at(time.Hour), Limit: 3}
	if got, want := page(q), []string{"host-0 fail", "host-1 pass", "host-2 fail"}; !slices.Equal(got, want) {
		t.Errorf("first page %q, want %q", got, want)
	}
	q.AfterHostID = hosts[2]
	if got, want := page(q), []string{"host-3 pass", "host-4 fail", "host-5 pass"}; !slices.Equal(got, want) {
		t.Errorf("second page %q, want %q", got, want)
	}
	q = store.ResultQuery{PolicyID: "p", Status: policy.StatusFail, At: at(time.Hour), AfterHostID: hosts[0]}
	if got, want := page(q), []string{"host-2 fail", "host-4 fail", "host-6 fail"}; !slices.Equal(got, want) {
		t.Errorf("failures after host-0 %q, want %q", got, want)
	}
	if got := page(store.ResultQuery{PolicyID: "other", At: at(time.Hour)}); len(got) != 0 {
		t.Errorf("results of an unknown policy: %q", got)
	}
	if got := page(store.ResultQuery{PolicyID: "p", At: at(time.Hour)}); len(got) != 7 {
		t.Errorf("default limit page has %d results, want all 7", len(got))
	}
}

func testHostResults(t *testing.T, st store.Store) {
	ctx := t.Context()
	host, other := enroll(t, st, "web-1"), enroll(t, st, "web-2")
	applyPolicies(t, st, at(0), spec("z", "true"), spec("a", "true"), spec("m", "true"))
	applyResults(t, st,
		store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
			result("z", policy.StatusPass, at(time.Minute)), result("a", policy.StatusError, at(time.Minute))}},
		store.ResultBatch{HostID: other, Revision: 1, Results: []policy.Result{result("m", policy.StatusFail, at(time.Minute))}})
	if got, want := hostStatuses(t, st, host, at(time.Hour)), []string{"a error", "z pass"}; !slices.Equal(got, want) {
		t.Errorf("host results %q, want %q", got, want)
	}
	if got := hostStatuses(t, st, enroll(t, st, "new"), at(time.Hour)); len(got) != 0 {
		t.Errorf("a new host has results %q", got)
	}
	if _, err := st.HostResults(ctx, other+100, at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("results of an unknown host: %v, want ErrNotFound", err)
	}
}

func testResultsOddValues(t *testing.T, st store.Store) {
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("p", "true"))
	big := make([]policy.Evidence, 200)
	for i := range big {
		big[i] = policy.Evidence{Check: "check.all[0]", Detail: strings.Repeat("x", 1000)}
	}
	r := policy.Result{PolicyID: "p", Status: policy.StatusError, CheckedAt: at(time.Minute).Add(123 * time.Nanosecond),
		Error: "bad \x00 byte \xff " + strings.Repeat("é", store.MaxErrorBytes), Evidence: big}
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{r}})
	rs := hostResults(t, st, host, at(time.Hour))
	if len(rs) != 1 {
		t.Fatalf("results %+v", rs)
	}
	got := rs[0]
	if len(got.Evidence) != 1 || !strings.Contains(got.Evidence[0].Detail, "exceeded") {
		t.Errorf("oversized evidence stored as %d items", len(got.Evidence))
	}
	if len(got.Error) > store.MaxErrorBytes || strings.Contains(got.Error, "\x00") || !strings.HasPrefix(got.Error, "bad  byte \uFFFD") {
		t.Errorf("error stored as %q (%d bytes)", got.Error[:min(40, len(got.Error))], len(got.Error))
	}
	// Times keep microseconds in both backends.
	sameTime(t, "checked at", got.CheckedAt, at(time.Minute))
	// The same result again, nanoseconds and all, is a duplicate.
	if ts := applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{r}}); len(ts) != 0 {
		t.Errorf("duplicate recorded %q", transitionKeys(ts))
	}
}

// testComplianceCountsFollow drives results through every kind of change
// (first results, status flips, re-checks, removals, a policy deleted and
// applied again, folds in between) and compares Compliance after each
// step with counts kept here from what was applied.
func testComplianceCountsFollow(t *testing.T, st store.Store) {
	ctx := t.Context()
	policies := []string{"a", "b", "c"}
	rev := applyPolicies(t, st, at(0), spec("a", "true"), spec("b", "true"), spec("c", "true")).Revision
	hosts := make([]int64, 5)
	for i := range hosts {
		hosts[i] = enroll(t, st, fmt.Sprintf("h%d", i))
	}
	model := map[int64]map[string]policy.Status{}
	for _, h := range hosts {
		model[h] = map[string]policy.Status{}
	}
	check := func(step string) {
		t.Helper()
		want := map[string]*store.PolicyCounts{}
		for _, byPolicy := range model {
			for id, s := range byPolicy {
				c := want[id]
				if c == nil {
					c = &store.PolicyCounts{PolicyID: id}
					want[id] = c
				}
				switch s {
				case policy.StatusPass:
					c.Pass++
				case policy.StatusFail:
					c.Fail++
				case policy.StatusNotApplicable:
					c.NotApplicable++
				case policy.StatusError:
					c.Error++
				}
			}
		}
		got := map[string]store.PolicyCounts{}
		for _, c := range compliance(t, st, at(24*time.Hour)) {
			got[c.PolicyID] = c
		}
		if len(got) != len(want) {
			t.Fatalf("%s: compliance has %d policies %+v, want %d", step, len(got), got, len(want))
		}
		for id, w := range want {
			if got[id] != *w {
				t.Fatalf("%s: policy %s counts %+v, want %+v", step, id, got[id], *w)
			}
		}
	}
	statuses := []policy.Status{policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusError}
	clock := time.Minute
	for round := range 12 {
		clock += time.Minute
		var batches []store.ResultBatch
		for i, h := range hosts {
			b := store.ResultBatch{HostID: h, Revision: rev}
			for j, id := range policies {
				switch k := (round*7 + i*3 + j*5) % 9; {
				case k < 5: // a result, often the same status as before
					s := statuses[(round/3+i+j*k)%len(statuses)]
					b.Results = append(b.Results, result(id, s, at(clock)))
					model[h][id] = s
				case k < 7: // no news
				default:
					b.Removed = append(b.Removed, id)
					delete(model[h], id)
				}
			}
			batches = append(batches, b)
		}
		applyResults(t, st, batches...)
		check(fmt.Sprintf("round %d", round))
		if round%4 == 1 {
			if err := st.FoldResultCounts(ctx); err != nil {
				t.Fatalf("fold: %v", err)
			}
			check(fmt.Sprintf("round %d folded", round))
		}
		if round == 6 {
			var err error
			if rev, err = st.DeletePolicy(ctx, "b", "ops", at(clock)); err != nil {
				t.Fatalf("delete policy: %v", err)
			}
			for _, h := range hosts {
				delete(model[h], "b")
			}
			check("policy b deleted")
			rev = applyPolicies(t, st, at(clock), spec("a", "true"), spec("b", "true"), spec("c", "true")).Revision
			check("policy b applied again")
		}
	}
	if err := st.FoldResultCounts(ctx); err != nil {
		t.Fatalf("fold: %v", err)
	}
	check("final fold")
}

// testResultParameters: the parameter values a result was evaluated with
// are stored and read back with it (current results of a policy and of a
// host, the transition it records); new values with the same status are
// a re-check, as new evidence is (stored, no transition, since kept); a
// result without parameters clears them; an oversized set is cut with a
// marker.
func testResultParameters(t *testing.T, st store.Store) {
	host := enroll(t, st, "web-1")
	applyPolicies(t, st, at(0), spec("pw", "true"), spec("plain", "true"))
	withParams := func(st policy.Status, checked time.Time, params map[string]string) policy.Result {
		r := result("pw", st, checked)
		r.Parameters = params
		return r
	}
	first := map[string]string{"max_days": "90", "warn_days": "7"}
	ts := applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		withParams(policy.StatusPass, at(time.Minute), first), result("plain", policy.StatusPass, at(time.Minute))}})
	if len(ts) != 2 {
		t.Fatalf("first results recorded %q, want 2 transitions", transitionKeys(ts))
	}
	for _, tr := range ts {
		if want := map[string]string(nil); tr.PolicyID == "pw" {
			want = first
			if !maps.Equal(tr.Parameters, want) {
				t.Errorf("returned transition of pw has parameters %v, want %v", tr.Parameters, want)
			}
		} else if tr.Parameters != nil {
			t.Errorf("transition of %s has parameters %v, want none", tr.PolicyID, tr.Parameters)
		}
	}
	// check reads pw's parameters back from every reader.
	check := func(step string, want map[string]string, wantSince, wantChecked time.Time) {
		t.Helper()
		var fromHost, fromPolicy *store.HostResult
		for _, r := range hostResults(t, st, host, at(time.Hour)) {
			switch r.PolicyID {
			case "pw":
				fromHost = &r
			case "plain":
				if r.Parameters != nil {
					t.Errorf("%s: plain has parameters %v, want nil", step, r.Parameters)
				}
			}
		}
		rs, err := st.PolicyResults(t.Context(), store.ResultQuery{PolicyID: "pw", At: at(time.Hour), Limit: 10})
		if err != nil {
			t.Fatalf("%s: policy results: %v", step, err)
		}
		if len(rs) == 1 {
			fromPolicy = &rs[0]
		}
		if fromHost == nil || fromPolicy == nil {
			t.Fatalf("%s: pw missing from host results (%v) or policy results (%d rows)", step, fromHost, len(rs))
		}
		for name, r := range map[string]*store.HostResult{"host results": fromHost, "policy results": fromPolicy} {
			if !maps.Equal(r.Parameters, want) || (want == nil) != (r.Parameters == nil) {
				t.Errorf("%s: %s parameters %v, want %v", step, name, r.Parameters, want)
			}
			sameTime(t, step+" "+name+" since", r.Since, wantSince)
			sameTime(t, step+" "+name+" checked at", r.CheckedAt, wantChecked)
		}
	}
	check("first", first, at(time.Minute), at(time.Minute))

	// Only the parameters change: stored, no transition, since kept.
	second := map[string]string{"max_days": "60", "warn_days": "7"}
	if ts := applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		withParams(policy.StatusPass, at(2*time.Minute), second)}}); len(ts) != 0 {
		t.Errorf("new parameters alone recorded %q", transitionKeys(ts))
	}
	check("new values", second, at(time.Minute), at(2*time.Minute))
	// The same result again, other parameters, same checked_at: a
	// duplicate, as a repeat with other evidence is.
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		withParams(policy.StatusPass, at(2*time.Minute), first)}})
	check("repeat", second, at(time.Minute), at(2*time.Minute))
	// A status change records a transition with the new values.
	third := map[string]string{"max_days": "30"}
	ts = applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		withParams(policy.StatusFail, at(3*time.Minute), third)}})
	if len(ts) != 1 || !maps.Equal(ts[0].Parameters, third) {
		t.Errorf("status change recorded %+v, want one transition with %v", ts, third)
	}
	check("status change", third, at(3*time.Minute), at(3*time.Minute))
	hist := transitions(t, st, store.TransitionQuery{PolicyID: "pw"})
	if keys, want := transitionKeys(hist), []string{"pw pass>fail", "pw >pass"}; !slices.Equal(keys, want) {
		t.Fatalf("history %q, want %q", keys, want)
	}
	if !maps.Equal(hist[0].Parameters, third) || !maps.Equal(hist[1].Parameters, first) {
		t.Errorf("history parameters %v, %v; want %v, %v", hist[0].Parameters, hist[1].Parameters, third, first)
	}
	// A later result without parameters clears them.
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		withParams(policy.StatusFail, at(4*time.Minute), nil)}})
	check("none", nil, at(3*time.Minute), at(4*time.Minute))

	// Too many: cut in name order, with the marker.
	many := map[string]string{}
	for i := range store.MaxParameters + 10 {
		many[fmt.Sprintf("p%03d", i)] = "v"
	}
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		withParams(policy.StatusFail, at(5*time.Minute), many)}})
	got := hostResults(t, st, host, at(time.Hour))[1].Parameters // "pw" after "plain"
	if len(got) != store.MaxParameters || got["p000"] != "v" || got[fmt.Sprintf("p%03d", store.MaxParameters-2)] != "v" ||
		!strings.HasPrefix(got[store.ParametersCutKey], "11 of 74 parameters not stored") {
		t.Errorf("%d parameters stored as %d entries, marker %q", len(many), len(got), got[store.ParametersCutKey])
	}
	// Too large: long values left out, the rest kept.
	big := map[string]string{"a": "short", "b": strings.Repeat("x", store.MaxParameterBytes), "c": "also short \x00 \xff"}
	applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1, Results: []policy.Result{
		withParams(policy.StatusFail, at(6*time.Minute), big)}})
	got = hostResults(t, st, host, at(time.Hour))[1].Parameters
	if len(got) != 3 || got["a"] != "short" || got["c"] != "also short \x00 \uFFFD" || got["b"] != "" ||
		!strings.HasPrefix(got[store.ParametersCutKey], "1 of 3 parameters not stored") {
		t.Errorf("oversized parameters stored as %q", got)
	}
}
