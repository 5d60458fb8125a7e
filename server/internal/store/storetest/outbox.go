package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

func claim(t *testing.T, st store.Store, now time.Time, limit int, skip ...string) []store.ClaimedNotification {
	t.Helper()
	ns, err := st.ClaimNotifications(t.Context(), store.NotificationClaim{Now: now, Lease: time.Minute, Limit: limit, Skip: skip})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return ns
}

func record(t *testing.T, st store.Store, outs ...store.NotificationOutcome) int {
	t.Helper()
	n, err := st.RecordOutcomes(t.Context(), outs)
	if err != nil {
		t.Fatalf("record outcomes: %v", err)
	}
	return n
}

func names(ns []store.ClaimedNotification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s/%s#%d", n.Receiver, n.Event, n.Attempts))
	}
	return out
}

func testOutboxLifecycle(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-1")
	res := applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{{Spec: alertSpec("r", h, "s"), Receivers: []string{"pd", "hook", "mail"}}}})
	alert := res.Opened[0]
	got := claim(t, st, at(time.Second), 10, "mail")
	wantStrings(t, "first claim", names(got), []string{"pd/trigger#1", "hook/trigger#1"})
	if got[0].Alert.ID != alert.ID || got[0].Alert.DedupKey() != alert.DedupKey() || got[0].Alert.Labels["rule"] != "r" ||
		!got[0].At.Equal(at(0)) {
		t.Errorf("claimed row's alert = %+v", got[0])
	}
	// Claimed rows are not claimed again while the lease holds.
	wantStrings(t, "claim during lease", names(claim(t, st, at(2*time.Second), 10, "mail")), nil)
	if n := record(t, st,
		store.NotificationOutcome{ID: got[0].ID, Attempts: 1, State: store.NotificationSent, At: at(3 * time.Second), Status: 202},
		store.NotificationOutcome{ID: got[1].ID, Attempts: 1, State: store.NotificationPending, At: at(3 * time.Second),
			NextAttemptAt: at(time.Minute), Error: "status 500", Status: 500},
	); n != 2 {
		t.Errorf("recorded %d outcomes, want 2", n)
	}
	// The retry is not due before its time, then is, with attempt 2.
	wantStrings(t, "claim before retry is due", names(claim(t, st, at(30*time.Second), 10, "mail")), nil)
	got = claim(t, st, at(time.Minute), 10, "mail")
	wantStrings(t, "claim when due", names(got), []string{"hook/trigger#2"})
	record(t, st, store.NotificationOutcome{ID: got[0].ID, Attempts: 2, State: store.NotificationDead, At: at(time.Minute),
		Error: "status 400: invalid payload", Status: 400})
	got = claim(t, st, at(time.Minute), 10)
	wantStrings(t, "mail's claim", names(got), []string{"mail/trigger#1"})
	record(t, st, store.NotificationOutcome{ID: got[0].ID, Attempts: 1, State: store.NotificationSkipped, At: at(time.Minute)})

	ns, err := st.ListNotifications(t.Context(), store.NotificationQuery{AlertID: alert.ID})
	if err != nil {
		t.Fatal(err)
	}
	byRecv := map[string]store.Notification{}
	for _, n := range ns {
		byRecv[n.Receiver] = n
	}
	if pd := byRecv["pd"]; pd.State != store.NotificationSent || !pd.SentAt.Equal(at(3*time.Second)) || pd.LastStatus != 202 || !pd.NextAttemptAt.IsZero() {
		t.Errorf("pd row = %+v", pd)
	}
	if hook := byRecv["hook"]; hook.State != store.NotificationDead || hook.Attempts != 2 || hook.LastStatus != 400 ||
		hook.LastError != "status 400: invalid payload" || !hook.SentAt.IsZero() {
		t.Errorf("hook row = %+v", hook)
	}
	dead, err := st.ListNotifications(t.Context(), store.NotificationQuery{State: store.NotificationDead})
	if err != nil || len(dead) != 1 || dead[0].Receiver != "hook" {
		t.Errorf("dead letters = %+v, %v", dead, err)
	}
	counts, err := st.NotificationCounts(t.Context())
	if err != nil || len(counts) != 1 || counts[0] != (store.NotificationCount{Receiver: "hook", State: store.NotificationDead, Count: 1}) {
		t.Errorf("notification counts = %+v, %v", counts, err)
	}
	if _, err := st.RecordOutcomes(t.Context(), []store.NotificationOutcome{{ID: 1, Attempts: 1, State: "bogus"}}); err == nil {
		t.Error("an invalid outcome state was accepted")
	}
}

func testOutboxOrder(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-2")
	a := applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{{Spec: alertSpec("r", h, ""), Receivers: []string{"pd"}}}}).Opened[0]
	if _, err := st.AckAlert(t.Context(), a.ID, "alice", "", at(time.Second)); err != nil {
		t.Fatal(err)
	}
	applyAlerts(t, st, store.AlertChanges{At: at(2 * time.Second), Resolve: []int64{a.ID}})
	// Only the trigger is claimable while it is pending, even when it
	// failed and waits for a retry.
	got := claim(t, st, at(3*time.Second), 10)
	wantStrings(t, "first claim", names(got), []string{"pd/trigger#1"})
	record(t, st, store.NotificationOutcome{ID: got[0].ID, Attempts: 1, State: store.NotificationPending, At: at(3 * time.Second), NextAttemptAt: at(time.Hour)})
	wantStrings(t, "claim while the trigger waits", names(claim(t, st, at(time.Minute), 10)), nil)
	got = claim(t, st, at(time.Hour), 10)
	wantStrings(t, "retry", names(got), []string{"pd/trigger#2"})
	record(t, st, store.NotificationOutcome{ID: got[0].ID, Attempts: 2, State: store.NotificationSent, At: at(time.Hour)})
	got = claim(t, st, at(time.Hour), 10)
	wantStrings(t, "after the trigger", names(got), []string{"pd/acknowledge#1"})
	record(t, st, store.NotificationOutcome{ID: got[0].ID, Attempts: 1, State: store.NotificationSent, At: at(time.Hour)})
	got = claim(t, st, at(time.Hour), 10)
	wantStrings(t, "last", names(got), []string{"pd/resolve#1"})
	if got[0].Alert.State != store.AlertResolved || got[0].Alert.DedupKey() != a.DedupKey() || !got[0].At.Equal(at(2*time.Second)) {
		t.Errorf("resolve carries %+v, want the trigger's identity and the resolve time", got[0])
	}
}

func testOutboxStaleClaim(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-3")
	applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{{Spec: alertSpec("r", h, ""), Receivers: []string{"pd"}}}})
	first := claim(t, st, at(time.Second), 1)
	// The first worker stalls past its lease; another claims the row.
	second := claim(t, st, at(2*time.Minute), 1)
	if len(first) != 1 || len(second) != 1 || first[0].ID != second[0].ID || second[0].Attempts != 2 {
		t.Fatalf("claims = %v then %v; want the same row, attempt 2", names(first), names(second))
	}
	if n := record(t, st, store.NotificationOutcome{ID: first[0].ID, Attempts: 1, State: store.NotificationDead, At: at(2 * time.Minute)}); n != 0 {
		t.Errorf("stale outcome applied %d rows, want 0", n)
	}
	if n := record(t, st, store.NotificationOutcome{ID: second[0].ID, Attempts: 2, State: store.NotificationSent, At: at(2 * time.Minute)}); n != 1 {
		t.Errorf("current outcome applied %d rows, want 1", n)
	}
	// A sent row is final: even its own token cannot move it.
	if n := record(t, st, store.NotificationOutcome{ID: second[0].ID, Attempts: 2, State: store.NotificationDead, At: at(3 * time.Minute)}); n != 0 {
		t.Errorf("outcome for a sent row applied %d rows, want 0", n)
	}
}

func testOutboxConcurrentClaims(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-4")
	var opens []store.AlertOpen
	for i := range 60 {
		opens = append(opens, store.AlertOpen{Spec: alertSpec("r", h, fmt.Sprint(i)), Receivers: []string{"pd", "am"}})
	}
	applyAlerts(t, st, store.AlertChanges{At: at(0), Open: opens})
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				ns, err := st.ClaimNotifications(t.Context(), store.NotificationClaim{Now: at(time.Second), Lease: time.Hour, Limit: 7})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(ns) == 0 {
					return
				}
				mu.Lock()
				for _, n := range ns {
					seen[n.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 120 {
		t.Errorf("claimed %d distinct rows, want 120", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d claimed %d times", id, n)
		}
	}
}

func testOpenAlertsSentTo(t *testing.T, st store.Store) {
	h := enroll(t, st, "web-5")
	res := applyAlerts(t, st, store.AlertChanges{At: at(0), Open: []store.AlertOpen{
		{Spec: alertSpec("r", h, "1"), Receivers: []string{"am"}},
		{Spec: alertSpec("r", h, "2"), Receivers: []string{"am"}},
		{Spec: alertSpec("r", h, "3"), Receivers: []string{"pd"}},
	}})
	for _, n := range claim(t, st, at(time.Second), 10) {
		if n.Alert.Subject != "2" {
			record(t, st, store.NotificationOutcome{ID: n.ID, Attempts: n.Attempts, State: store.NotificationSent, At: at(time.Second)})
		}
	}
	ids := func() []int64 {
		as, err := st.OpenAlertsSentTo(t.Context(), "am", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	if got := ids(); !slices.Equal(got, []int64{res.Opened[0].ID}) {
		t.Errorf("open alerts sent to am = %v, want only the first", got)
	}
	applyAlerts(t, st, store.AlertChanges{Resolve: []int64{res.Opened[0].ID}})
	if got := ids(); len(got) != 0 {
		t.Errorf("after resolve = %v, want none", got)
	}
}
