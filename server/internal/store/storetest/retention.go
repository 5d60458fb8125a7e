package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

var retentionTests = []subtest{
	{"changes older than the cutoff go", testPruneChanges},
	{"transitions older than the cutoff go", testPruneTransitions},
	{"audit entries go oldest first, in bounded batches", testPruneAudit},
	{"resolved alerts go, open ones stay", testPruneAlerts},
	{"finished notifications go, pending ones stay", testPruneNotifications},
	{"partitions are created twice without harm", testEnsurePartitionsTwice},
	{"the retention lock is taken and released", testRetentionLock},
	{"retention runs while ingest commits", testPruneWhileIngesting},
}

// Retention test times: months of 2025, a stray row from 2020 (a host
// with a clock far behind), and a cutoff in March.
var (
	rStray  = time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC)
	rJan    = time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	rFeb    = time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)
	rMar    = time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)
	rCutoff = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	rApr    = time.Date(2025, 4, 5, 12, 0, 0, 0, time.UTC)
)

// monthTimes are history times around the current month, where a fresh
// PostgreSQL store has its monthly partitions: a stray time far back, two
// whole months (this one and the next) before cutoff, a time of the month
// after on each side of cutoff, and one past the months partitioned ahead.
func monthTimes() (times []time.Time, cutoff time.Time) {
	now := time.Now().UTC()
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	day := func(months, days int) time.Time { return m.AddDate(0, months, days).Add(12 * time.Hour) }
	return []time.Time{rStray, day(0, 9), day(1, 9), day(2, 1), day(2, 19), day(4, 4)}, m.AddDate(0, 2, 9)
}

// pruneAll calls PruneHistory until a call deletes less than limit and
// returns the rows deleted in all.
func pruneAll(t *testing.T, st store.Store, kind store.HistoryKind, before time.Time, limit int) int64 {
	t.Helper()
	var total int64
	for range 1000 {
		n, err := st.PruneHistory(t.Context(), kind, before, limit)
		if err != nil {
			t.Fatalf("prune %s: %v", kind, err)
		}
		total += n
		if n < int64(limit) {
			return total
		}
	}
	t.Fatalf("prune %s: still deleting after 1000 calls", kind)
	return total
}

func ensurePartitions(t *testing.T, st store.Store, now time.Time) {
	t.Helper()
	if err := st.EnsurePartitions(t.Context(), now); err != nil {
		t.Fatalf("ensure partitions at %v: %v", now, err)
	}
}

func testPruneChanges(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	// Alternating versions: every inventory after the first records an
	// upgrade or a downgrade at its collection time.
	pkgs := []wire.Section{softwareSection(t, pkgSSL11), softwareSection(t, pkgSSL13)}
	mt, cutoff := monthTimes()
	times := append([]time.Time{rStray.Add(-time.Hour)}, mt...)
	for i, at := range times {
		sendSections(t, st, id, uint64(i+1), at, pkgs[i%2])
	}
	// A month partitioned after its rows arrived takes them over; every
	// row still reads back.
	before := listChanges(t, st, store.ChangeQuery{HostID: id, Limit: 1000})
	ensurePartitions(t, st, mt[len(mt)-1])
	if got := listChanges(t, st, store.ChangeQuery{HostID: id, Limit: 1000}); len(got) != len(before) {
		t.Fatalf("after creating partitions: %d changes, want %d", len(got), len(before))
	}
	var old, kept []int64
	for _, c := range before {
		if c.FirstSeen.Before(cutoff) {
			old = append(old, c.ID)
		} else {
			kept = append(kept, c.ID)
		}
	}
	if len(old) < 4 || len(kept) < 2 {
		t.Fatalf("setup: %d old and %d newer changes", len(old), len(kept))
	}
	if n := pruneAll(t, st, store.HistoryChanges, cutoff, 1); n != int64(len(old)) {
		t.Errorf("pruned %d changes, want %d", n, len(old))
	}
	var got []int64
	for _, c := range listChanges(t, st, store.ChangeQuery{HostID: id, Limit: 1000}) {
		got = append(got, c.ID)
	}
	if !slices.Equal(got, kept) {
		t.Errorf("changes left %v, want %v", got, kept)
	}
	// A change older than every partition left still goes in.
	sendSections(t, st, id, uint64(len(times)+1), rStray, pkgs[len(times)%2])
	if got := listChanges(t, st, store.ChangeQuery{HostID: id, Limit: 1000}); len(got) != len(kept)+1 {
		t.Errorf("after a new change: %d changes, want %d", len(got), len(kept)+1)
	}
}

func testPruneTransitions(t *testing.T, st store.Store) {
	host := enroll(t, st, "h")
	applyPolicies(t, st, rStray.Add(-time.Hour), spec("p", "true"))
	statuses := []policy.Status{policy.StatusPass, policy.StatusFail}
	mt, cutoff := monthTimes()
	for i, at := range mt {
		applyResults(t, st, store.ResultBatch{HostID: host, Revision: 1,
			Results: []policy.Result{result("p", statuses[i%2], at)}})
	}
	all := transitions(t, st, store.TransitionQuery{PolicyID: "p", Limit: 1000})
	if len(all) != len(mt) {
		t.Fatalf("setup: %d transitions, want %d", len(all), len(mt))
	}
	if n := pruneAll(t, st, store.HistoryTransitions, cutoff, 2); n != 4 {
		t.Errorf("pruned %d transitions, want 4", n)
	}
	var got []time.Time
	for _, tr := range transitions(t, st, store.TransitionQuery{PolicyID: "p", Limit: 1000}) {
		got = append(got, tr.At.UTC())
	}
	if want := []time.Time{mt[5], mt[4]}; !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("transitions left at %v, want %v", got, want)
	}
	// The host's current result is not history: it stays.
	if got := hostStatuses(t, st, host, mt[5].Add(time.Hour)); !slices.Equal(got, []string{"p fail"}) {
		t.Errorf("current results %q, want p fail", got)
	}
}

func testPruneAudit(t *testing.T, st store.Store) {
	ctx := t.Context()
	for i := range 7 {
		at := rJan.Add(time.Duration(i) * 24 * time.Hour)
		if i >= 5 {
			at = rApr.Add(time.Duration(i) * time.Hour)
		}
		if err := st.AppendAudit(ctx, store.AuditEntry{At: at, Actor: "test", Action: "retention.test", Subject: string(rune('a' + i))}); err != nil {
			t.Fatalf("append audit: %v", err)
		}
	}
	es, err := st.ListAudit(ctx, store.AuditQuery{Limit: 1000})
	if err != nil || len(es) != 7 {
		t.Fatalf("setup: %d audit entries (%v), want 7", len(es), err)
	}
	// Each call deletes at most its limit, oldest first.
	for _, want := range []int64{2, 2, 1, 0} {
		n, err := st.PruneHistory(ctx, store.HistoryAudit, rCutoff, 2)
		if err != nil {
			t.Fatalf("prune audit: %v", err)
		}
		if n != want {
			t.Errorf("prune audit with limit 2: %d rows, want %d", n, want)
		}
	}
	es, err = st.ListAudit(ctx, store.AuditQuery{Action: "retention.test", Limit: 100})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	var subjects []string
	for _, e := range es {
		subjects = append(subjects, e.Subject)
	}
	if want := []string{"g", "f"}; !slices.Equal(subjects, want) {
		t.Errorf("audit left %q, want the newest %q", subjects, want)
	}
}

func testPruneAlerts(t *testing.T, st store.Store) {
	h := enroll(t, st, "h")
	open := func(at time.Time, subject string) int64 {
		res := applyAlerts(t, st, store.AlertChanges{At: at, Open: []store.AlertOpen{{Spec: alertSpec("r", h, subject)}}})
		if len(res.Opened) != 1 {
			t.Fatalf("open %s: %d alerts opened", subject, len(res.Opened))
		}
		return res.Opened[0].ID
	}
	oldResolved := open(rJan, "old")
	applyAlerts(t, st, store.AlertChanges{At: rFeb, Resolve: []int64{oldResolved}})
	oldFiring := open(rJan, "firing")
	newResolved := open(rMar, "new")
	applyAlerts(t, st, store.AlertChanges{At: rApr, Resolve: []int64{newResolved}})
	if n := pruneAll(t, st, store.HistoryAlerts, rCutoff, 10); n != 1 {
		t.Errorf("pruned %d alerts, want 1", n)
	}
	if _, err := st.GetAlert(t.Context(), oldResolved); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alert resolved before the cutoff: %v, want not found", err)
	}
	for _, id := range []int64{oldFiring, newResolved} {
		if _, err := st.GetAlert(t.Context(), id); err != nil {
			t.Errorf("alert %d: %v, want kept", id, err)
		}
	}
}

func testPruneNotifications(t *testing.T, st store.Store) {
	h := enroll(t, st, "h")
	open := func(at time.Time, subject string) int64 {
		res := applyAlerts(t, st, store.AlertChanges{At: at,
			Open: []store.AlertOpen{{Spec: alertSpec("r", h, subject), Receivers: []string{"ops"}}}})
		if len(res.Opened) != 1 {
			t.Fatalf("open %s: %d alerts opened", subject, len(res.Opened))
		}
		return res.Opened[0].ID
	}
	sent := open(rJan, "sent")
	ns := claim(t, st, rJan.Add(time.Minute), 10)
	if len(ns) != 1 {
		t.Fatalf("claimed %q, want one trigger", names(ns))
	}
	record(t, st, store.NotificationOutcome{ID: ns[0].ID, Attempts: ns[0].Attempts, State: "sent", At: rJan.Add(time.Minute)})
	pending := open(rJan, "pending")
	recent := open(rApr, "recent")
	if n := pruneAll(t, st, store.HistoryNotifications, rCutoff, 10); n != 1 {
		t.Errorf("pruned %d notifications, want 1", n)
	}
	for id, want := range map[int64][]string{sent: nil, pending: {"ops/trigger/pending"}, recent: {"ops/trigger/pending"}} {
		wantStrings(t, fmt.Sprintf("outbox of alert %d", id), outbox(t, st, id), want)
	}
}

func testEnsurePartitionsTwice(t *testing.T, st store.Store) {
	for range 2 {
		ensurePartitions(t, st, rJan)
		ensurePartitions(t, st, time.Now())
		ensurePartitions(t, st, time.Now().AddDate(0, 5, 0))
	}
	// Rows of months with and without a partition of their own both go in.
	host := enroll(t, st, "h")
	sendSections(t, st, host, 1, rJan, softwareSection(t, pkgSSL11))
	sendSections(t, st, host, 2, time.Now().AddDate(0, 3, 0), softwareSection(t, pkgSSL13))
	sendSections(t, st, host, 3, time.Now().AddDate(5, 0, 0), softwareSection(t, pkgSSL11))
	if got := listChanges(t, st, store.ChangeQuery{HostID: host, Limit: 100}); len(got) == 0 {
		t.Error("no changes recorded")
	}
}

func testRetentionLock(t *testing.T, st store.Store) {
	release, ok, err := st.TryLockRetention(t.Context())
	if err != nil || !ok {
		t.Fatalf("first lock: ok %v, err %v", ok, err)
	}
	release()
	// Once released it can be taken again.
	release, ok, err = st.TryLockRetention(t.Context())
	if err != nil || !ok {
		t.Fatalf("lock after release: ok %v, err %v", ok, err)
	}
	release()
}
