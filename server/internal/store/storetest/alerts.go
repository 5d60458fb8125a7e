package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

var alertTests = []subtest{
	{"episodes open once and resolve once", testAlertEpisodes},
	{"concurrent opens make one episode", testAlertOpenRace},
	{"muted alerts notify when unmuted", testAlertMuted},
	{"acknowledge", testAlertAck},
	{"list, counts and annotations", testAlertList},
	{"silences", testSilences},
	{"bulk reads for evaluation", testAlertReads},
}

var outboxTests = []subtest{
	{"claim, retry, dead letter", testOutboxLifecycle},
	{"events of one alert go out in order", testOutboxOrder},
	{"a stale claim's outcome is ignored", testOutboxStaleClaim},
	{"concurrent claimers never share a row", testOutboxConcurrentClaims},
	{"open alerts sent to a receiver", testOpenAlertsSentTo},
}

func alertSpec(rule string, host int64, subject string) store.AlertSpec {
	return store.AlertSpec{Rule: rule, HostID: host, Subject: subject, Severity: "high",
		Labels:      map[string]string{"rule": rule, "severity": "high", "host_id": fmt.Sprint(host)},
		Annotations: map[string]string{"summary": rule + " on " + fmt.Sprint(host)}}
}

func applyAlerts(t *testing.T, st store.Store, c store.AlertChanges) store.AlertChangeResult {
	t.Helper()
	res, err := st.ApplyAlertChanges(t.Context(), c)
	if err != nil {
		t.Fatalf("apply alert changes: %v", err)
	}
	return res
}

// outbox returns every notification of an alert, oldest first, as
// "receiver/event/state".
func outbox(t *testing.T, st store.Store, alertID int64) []string {
	t.Helper()
	ns, err := st.ListNotifications(t.Context(), store.NotificationQuery{AlertID: alertID, Limit: 1000})
	if err != nil {
		t.Fatalf("list notifications: %v", err)
	}
	var out []string
	for _, n := range slices.Backward(ns) {
		if n.AlertID != alertID {
			t.Errorf("notification %d is of alert %d, asked for %d", n.ID, n.AlertID, alertID)
		}
		out = append(out, n.Receiver+"/"+n.Event+"/"+n.State)
	}
	return out
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func testAlertEpisodes(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-1")
	spec := alertSpec("policy-failing", h, "ssh-root")
	res := applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{{Spec: spec, Receivers: []string{"pd", "am"}}}})
	if len(res.Opened) != 1 || res.Notifications != 2 {
		t.Fatalf("first open = %+v, want one alert and two notifications", res)
	}
	a := res.Opened[0]
	if a.ID == 0 || a.State != store.AlertFiring || !a.StartedAt.Equal(at(0)) || a.Muted || !a.Notified ||
		a.Labels["rule"] != "policy-failing" || a.Annotations["summary"] == "" || a.Subject != "ssh-root" {
		t.Errorf("opened alert = %+v", a)
	}
	// The same episode again, even with other receivers: nothing changes.
	res = applyAlerts(t, st, store.AlertChanges{At: at(time.Minute), Open: []store.AlertOpen{{Spec: spec, Receivers: []string{"hook"}}}})
	if len(res.Opened) != 0 || res.Notifications != 0 {
		t.Errorf("second open of one episode = %+v, want nothing", res)
	}
	wantStrings(t, "outbox after opens", outbox(t, st, a.ID), []string{"pd/trigger/pending", "am/trigger/pending"})

	res = applyAlerts(t, st, store.AlertChanges{At: at(2 * time.Minute), Resolve: []int64{a.ID}})
	if len(res.Resolved) != 1 || res.Notifications != 2 || res.Resolved[0].State != store.AlertResolved ||
		!res.Resolved[0].ResolvedAt.Equal(at(2*time.Minute)) {
		t.Fatalf("resolve = %+v", res)
	}
	res = applyAlerts(t, st, store.AlertChanges{At: at(3 * time.Minute), Resolve: []int64{a.ID}})
	if len(res.Resolved) != 0 || res.Notifications != 0 {
		t.Errorf("second resolve = %+v, want nothing", res)
	}
	wantStrings(t, "outbox after resolve", outbox(t, st, a.ID),
		[]string{"pd/trigger/pending", "am/trigger/pending", "pd/resolve/pending", "am/resolve/pending"})

	// The problem comes back: a new episode with a new identity.
	res = applyAlerts(t, st, store.AlertChanges{At: at(4 * time.Minute), Open: []store.AlertOpen{{Spec: spec, Receivers: []string{"pd"}}}})
	if len(res.Opened) != 1 || res.Opened[0].ID == a.ID {
		t.Fatalf("reopen = %+v, want a new episode", res)
	}
	if res.Opened[0].DedupKey() == a.DedupKey() || len(a.DedupKey()) > 64 {
		t.Errorf("dedup keys %q and %q: want distinct, at most 64 characters", a.DedupKey(), res.Opened[0].DedupKey())
	}
	got, err := st.GetAlert(t.Context(), a.ID)
	if err != nil || got.State != store.AlertResolved {
		t.Errorf("first episode = %+v, %v; want resolved", got, err)
	}
	if _, err := st.GetAlert(t.Context(), 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown alert: %v, want ErrNotFound", err)
	}
	// Opening an alert for a host that does not exist fails the step.
	if _, err := st.ApplyAlertChanges(t.Context(), store.AlertChanges{Open: []store.AlertOpen{{Spec: alertSpec("r", 1<<40, "")}}}); err == nil {
		t.Error("alert for an unknown host was stored")
	}
}

func testAlertOpenRace(t *testing.T, st store.Store) {
	h := enroll(t, st, "db-1")
	spec := alertSpec("host-offline", h, "")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := st.ApplyAlertChanges(t.Context(), store.AlertChanges{Open: []store.AlertOpen{{Spec: spec, Receivers: []string{"pd"}}}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent open: %v", err)
		}
	}
	open, err := st.OpenAlerts(t.Context(), store.OpenAlertQuery{Rule: "host-offline"})
	if err != nil || len(open) != 1 {
		t.Fatalf("open alerts = %+v, %v; want exactly one", open, err)
	}
	wantStrings(t, "outbox", outbox(t, st, open[0].ID), []string{"pd/trigger/pending"})
}

func testAlertMuted(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-2")
	res := applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{
		{Spec: alertSpec("a", h, "x"), Receivers: []string{"pd"}, Muted: true},
		{Spec: alertSpec("b", h, "y"), Receivers: []string{"pd"}, Muted: true},
	}})
	if len(res.Opened) != 2 || res.Notifications != 0 || !res.Opened[0].Muted || res.Opened[0].Notified {
		t.Fatalf("muted opens = %+v", res)
	}
	a, b := res.Opened[0], res.Opened[1]
	muted, err := st.OpenAlerts(t.Context(), store.OpenAlertQuery{Muted: true})
	if err != nil || len(muted) != 2 {
		t.Fatalf("muted open alerts = %+v, %v", muted, err)
	}
	// b resolves while muted: nobody heard of it, nobody hears it end.
	res = applyAlerts(t, st, store.AlertChanges{At: at(time.Minute), Resolve: []int64{b.ID}})
	if len(res.Resolved) != 1 || res.Notifications != 0 {
		t.Errorf("resolve of a muted alert = %+v, want no notifications", res)
	}
	// a is unmuted while firing: its trigger goes out now, dated from its start.
	res = applyAlerts(t, st, store.AlertChanges{At: at(2 * time.Minute), Unmute: []store.AlertUnmute{{ID: a.ID, Receivers: []string{"pd", "mail"}}, {ID: b.ID, Receivers: []string{"pd"}}}})
	if len(res.Unmuted) != 1 || res.Unmuted[0].ID != a.ID || res.Notifications != 2 {
		t.Fatalf("unmute = %+v, want only a with two triggers", res)
	}
	res = applyAlerts(t, st, store.AlertChanges{At: at(3 * time.Minute), Unmute: []store.AlertUnmute{{ID: a.ID, Receivers: []string{"pd"}}}})
	if len(res.Unmuted) != 0 {
		t.Errorf("second unmute = %+v, want nothing", res)
	}
	ns, err := st.ListNotifications(t.Context(), store.NotificationQuery{AlertID: a.ID})
	if err != nil || len(ns) != 2 || !ns[0].At.Equal(at(0)) || !ns[0].CreatedAt.Equal(at(2*time.Minute)) {
		t.Errorf("unmuted triggers = %+v, %v; want two, event at the start, created at the unmute", ns, err)
	}
	wantStrings(t, "b's outbox", outbox(t, st, b.ID), nil)
	if muted, _ := st.OpenAlerts(t.Context(), store.OpenAlertQuery{Muted: true}); len(muted) != 0 {
		t.Errorf("muted open alerts after unmute = %+v", muted)
	}
}

func testAlertAck(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-3")
	res := applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{{Spec: alertSpec("r", h, ""), Receivers: []string{"pd", "am"}}}})
	id := res.Opened[0].ID
	a, err := st.AckAlert(t.Context(), id, "alice", "looking", at(time.Minute))
	if err != nil || a.State != store.AlertAcknowledged || a.AckedBy != "alice" || a.AckComment != "looking" || !a.AckedAt.Equal(at(time.Minute)) {
		t.Fatalf("ack = %+v, %v", a, err)
	}
	a, err = st.AckAlert(t.Context(), id, "bob", "me too", at(2*time.Minute))
	if err != nil || a.AckedBy != "alice" {
		t.Errorf("second ack = %+v, %v; want the first kept", a, err)
	}
	wantStrings(t, "outbox", outbox(t, st, id), []string{"pd/trigger/pending", "am/trigger/pending",
		"pd/acknowledge/pending", "am/acknowledge/pending"})
	// Acknowledged alerts stay open and resolve like firing ones.
	if open, _ := st.OpenAlerts(t.Context(), store.OpenAlertQuery{HostIDs: []int64{h}}); len(open) != 1 {
		t.Errorf("open alerts of host = %d, want 1", len(open))
	}
	applyAlerts(t, st, store.AlertChanges{Resolve: []int64{id}})
	if _, err := st.AckAlert(t.Context(), id, "alice", "", time.Time{}); !errors.Is(err, store.ErrAlertResolved) {
		t.Errorf("ack of resolved alert: %v, want ErrAlertResolved", err)
	}
	if _, err := st.AckAlert(t.Context(), 1<<40, "alice", "", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ack of unknown alert: %v, want ErrNotFound", err)
	}
	audit, err := st.ListAudit(t.Context(), store.AuditQuery{Action: store.AuditAlertAcknowledged})
	if err != nil || len(audit) != 1 || audit[0].Actor != "alice" || audit[0].Subject != fmt.Sprint(id) {
		t.Errorf("audit = %+v, %v; want one entry by alice", audit, err)
	}
}

func testAlertList(t *testing.T, st store.Store) {
	h1, h2 := enroll(t, st, "a-1"), enroll(t, st, "a-2")
	low := alertSpec("expr-disk", h2, "")
	low.Severity = "low"
	res := applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{
		{Spec: alertSpec("policy-failing", h1, "p1")}, {Spec: alertSpec("policy-failing", h1, "p2")},
		{Spec: alertSpec("policy-failing", h2, "p1"), Muted: true}, {Spec: low},
	}})
	if len(res.Opened) != 4 {
		t.Fatalf("opened %d, want 4", len(res.Opened))
	}
	applyAlerts(t, st, store.AlertChanges{Resolve: []int64{res.Opened[1].ID},
		Annotate: []store.AlertAnnotate{{ID: res.Opened[0].ID, Annotations: map[string]string{"evidence": "new"}}}})
	ids := func(q store.AlertQuery) []int64 {
		as, err := st.ListAlerts(t.Context(), q)
		if err != nil {
			t.Fatalf("list alerts %+v: %v", q, err)
		}
		var out []int64
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	o := res.Opened
	for _, c := range []struct {
		q    store.AlertQuery
		want []int64
	}{
		{store.AlertQuery{}, []int64{o[3].ID, o[2].ID, o[1].ID, o[0].ID}},
		{store.AlertQuery{State: "open"}, []int64{o[3].ID, o[2].ID, o[0].ID}},
		{store.AlertQuery{State: store.AlertResolved}, []int64{o[1].ID}},
		{store.AlertQuery{Severity: "low"}, []int64{o[3].ID}},
		{store.AlertQuery{Rule: "policy-failing", HostID: h1}, []int64{o[1].ID, o[0].ID}},
		{store.AlertQuery{BeforeID: o[2].ID, Limit: 1}, []int64{o[1].ID}},
	} {
		if got := ids(c.q); !slices.Equal(got, c.want) {
			t.Errorf("list %+v = %v, want %v", c.q, got, c.want)
		}
	}
	a, err := st.GetAlert(t.Context(), o[0].ID)
	if err != nil || a.Annotations["evidence"] != "new" || a.Annotations["summary"] != "" {
		t.Errorf("annotated alert = %+v, %v; want annotations replaced", a.Annotations, err)
	}
	counts, err := st.AlertCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Rule+"/"+c.Severity+"/"+c.State] = c.Count
	}
	want := map[string]int64{"policy-failing/high/firing": 1, "policy-failing/high/muted": 1, "expr-disk/low/firing": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alert counts = %v, want %v", got, want)
	}
}

func testSilences(t *testing.T, st store.Store) {
	ms, err := match.ParseAll([]string{"rule=host-offline", `hostname=~"db-.*"`})
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.AddSilence(t.Context(), store.Silence{Matchers: ms, Comment: "db maintenance", CreatedBy: "alice",
		CreatedAt: at(0), EndsAt: at(time.Hour)})
	if err != nil {
		t.Fatalf("add silence: %v", err)
	}
	sl, err := st.GetSilence(t.Context(), id)
	if err != nil || !sl.StartsAt.Equal(at(0)) || !sl.EndsAt.Equal(at(time.Hour)) || len(sl.Matchers) != 2 ||
		!sl.Matchers[1].Matches(map[string]string{"hostname": "db-7"}) || sl.Matchers[1].Matches(map[string]string{"hostname": "web-1"}) {
		t.Fatalf("silence = %+v, %v", sl, err)
	}
	if !sl.Active(at(time.Minute)) || sl.Active(at(time.Hour)) {
		t.Error("silence active at the wrong times")
	}
	for _, bad := range []store.Silence{
		{Comment: "x", CreatedBy: "a", EndsAt: at(time.Hour)},
		{Matchers: ms, CreatedBy: "a", EndsAt: at(time.Hour)},
		{Matchers: ms, Comment: "x", CreatedBy: "a"},
		{Matchers: ms, Comment: "x", CreatedBy: "a", StartsAt: at(time.Hour), EndsAt: at(time.Minute)},
	} {
		if _, err := st.AddSilence(t.Context(), bad); err == nil {
			t.Errorf("invalid silence %+v was stored", bad)
		}
	}
	id2, err := st.AddSilence(t.Context(), store.Silence{Matchers: ms[:1], Comment: "later", CreatedBy: "bob",
		CreatedAt: at(0), StartsAt: at(2 * time.Hour), EndsAt: at(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	list := func(q store.SilenceQuery) []int64 {
		ss, err := st.ListSilences(t.Context(), q)
		if err != nil {
			t.Fatalf("list silences: %v", err)
		}
		var out []int64
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	if got := list(store.SilenceQuery{At: at(time.Minute)}); !slices.Equal(got, []int64{id2, id}) {
		t.Errorf("current silences = %v, want %v", got, []int64{id2, id})
	}
	if err := st.ExpireSilence(t.Context(), id, "carol", at(2*time.Minute)); err != nil {
		t.Fatalf("expire: %v", err)
	}
	if err := st.ExpireSilence(t.Context(), id, "carol", at(3*time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second expire: %v, want ErrConflict", err)
	}
	if err := st.ExpireSilence(t.Context(), 1<<40, "carol", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expire unknown: %v, want ErrNotFound", err)
	}
	if got := list(store.SilenceQuery{At: at(3 * time.Minute)}); !slices.Equal(got, []int64{id2}) {
		t.Errorf("current silences after expire = %v", got)
	}
	if got := list(store.SilenceQuery{All: true}); !slices.Equal(got, []int64{id2, id}) {
		t.Errorf("all silences = %v", got)
	}
	sl, _ = st.GetSilence(t.Context(), id)
	if sl.ExpiredBy != "carol" || !sl.ExpiredAt.Equal(at(2*time.Minute)) || sl.Active(at(3*time.Minute)) {
		t.Errorf("expired silence = %+v", sl)
	}
	for action, n := range map[string]int{store.AuditSilenceAdded: 2, store.AuditSilenceExpired: 1} {
		if a, err := st.ListAudit(t.Context(), store.AuditQuery{Action: action}); err != nil || len(a) != n {
			t.Errorf("audit %s = %d entries, %v; want %d", action, len(a), err, n)
		}
	}
}

func testAlertReads(t *testing.T, st store.Store) {
	ctx := t.Context()
	h1, h2, h3 := enroll(t, st, "r-1"), enroll(t, st, "r-2"), enroll(t, st, "r-3")
	if err := st.HostConnected(ctx, h1, store.HelloInfo{Hostname: "r-1", OS: "linux"}, at(0)); err != nil {
		t.Fatal(err)
	}
	if err := st.SetHostLabels(ctx, h2, map[string]string{"team": "db", "env": "prod"}, "ci"); err != nil {
		t.Fatal(err)
	}
	rev := applyPolicies(t, st, at(0), spec("a", "true"), spec("b", "true")).Revision
	applyResults(t, st,
		store.ResultBatch{HostID: h1, Revision: rev, Results: []policy.Result{result("a", policy.StatusFail, at(time.Second)), result("b", policy.StatusPass, at(time.Second))}},
		store.ResultBatch{HostID: h2, Revision: rev, Results: []policy.Result{result("a", policy.StatusFail, at(time.Second))}},
		store.ResultBatch{HostID: h3, Revision: rev, Results: []policy.Result{result("b", policy.StatusError, at(time.Second))}})
	addExemption(t, st, store.Exemption{PolicyID: "a", Labels: map[string]string{"team": "db"}, ExpiresAt: at(time.Hour)})

	got, err := st.ResultsOfHosts(ctx, []int64{h2, h1, 1 << 40}, at(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var want []store.HostResult
	for _, h := range []int64{h1, h2} {
		rs, err := st.HostResults(ctx, h, at(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, rs...)
	}
	if len(got) != 3 || !reflect.DeepEqual(got, want) {
		t.Errorf("results of hosts = %+v\nwant what HostResults gives one by one: %+v", got, want)
	}
	if len(got) == 3 && (got[2].Status != policy.StatusExempt || got[2].UnderlyingStatus != policy.StatusFail) {
		t.Errorf("host 2's label exemption not applied: %+v", got[2])
	}
	hosts, err := st.AlertHosts(ctx, []int64{h1, h2, 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 2 || hosts[h1].Hostname != "r-1" || hosts[h1].OS != "linux" || len(hosts[h1].Labels) != 0 ||
		hosts[h2].Labels["team"] != "db" || hosts[h2].Labels["env"] != "prod" {
		t.Errorf("alert hosts = %+v", hosts)
	}
	if rs, err := st.ResultsOfHosts(ctx, nil, time.Time{}); err != nil || len(rs) != 0 {
		t.Errorf("results of no hosts = %v, %v", rs, err)
	}
}
