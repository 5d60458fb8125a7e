package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

func alertIDs(as []apitypes.Alert) []int64 {
	ids := make([]int64, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

func TestListAlertsFilters(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{4, 3, 2, 1}},
		{"state=open", []int64{4, 3, 2}},
		{"state=firing", []int64{4, 3, 2}},
		{"state=resolved", []int64{1}},
		{"state=acknowledged", []int64{}},
		{"severity=critical", []int64{2}},
		{"severity=info", []int64{}},
		{"rule=policy_failing", []int64{4, 1}},
		{"rule=policy_failing&state=open", []int64{4}},
		{"host_id=2", []int64{4, 2}},
		{"host_id=1&severity=low", []int64{3}},
		{"host_id=99", []int64{}},
		{"rule=nope", []int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			list := decode[apitypes.AlertList](t, f.get(t, "/api/v1/alerts?"+tc.query), http.StatusOK)
			if got := alertIDs(list.Alerts); !slices.Equal(got, tc.want) || list.NextCursor != "" {
				t.Errorf("ids %v, cursor %q; want %v and no cursor", got, list.NextCursor, tc.want)
			}
		})
	}
}

func TestListAlertsRefuses(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	notificationCursor := decode[apitypes.NotificationList](t, f.get(t, "/api/v1/notifications?limit=1"), http.StatusOK).NextCursor
	cases := []struct{ query, want string }{
		{"state=closed", "state must be one of firing, acknowledged, resolved, open"},
		{"severity=urgent", "severity must be one of info, low, medium, high, critical"},
		{"host_id=web-1", `host_id "web-1" is not a positive integer`},
		{"host_id=0", "not a positive integer"},
		{"limit=0", "limit must be"},
		{"limit=1001", "limit must be"},
		{"cursor=garbage!", "invalid cursor"},
		{"cursor=" + notificationCursor, "invalid cursor"},
		{"rule=" + strings.Repeat("r", 256), "rule must be at most 255 bytes"},
		{"state=closed&severity=urgent", "severity must be"},
	}
	for _, tc := range cases {
		wantError(t, f.get(t, "/api/v1/alerts?"+tc.query), http.StatusBadRequest, tc.want)
	}
}

func TestListAlertsPages(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	for _, tc := range []struct {
		query string
		pages int
	}{{"limit=1", 4}, {"limit=3", 2}, {"limit=4", 1}, {"limit=2&host_id=1", 1}} {
		t.Run(tc.query, func(t *testing.T) {
			var ids []int64
			pages, cursor := 0, ""
			for {
				q := tc.query
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				list := decode[apitypes.AlertList](t, f.get(t, "/api/v1/alerts?"+q), http.StatusOK)
				ids, pages, cursor = append(ids, alertIDs(list.Alerts)...), pages+1, list.NextCursor
				if cursor == "" || pages > 10 {
					break
				}
			}
			want := []int64{4, 3, 2, 1}
			if strings.Contains(tc.query, "host_id=1") {
				want = []int64{3, 1}
			}
			if !slices.Equal(ids, want) || pages != tc.pages {
				t.Errorf("ids %v in %d pages, want %v in %d", ids, pages, want, tc.pages)
			}
		})
	}
}

func TestAlertJSON(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	rec := f.get(t, "/api/v1/alerts?state=resolved")
	var raw struct {
		Alerts []map[string]json.RawMessage `json:"alerts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil || len(raw.Alerts) != 1 {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	var keys []string
	for k := range raw.Alerts[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"annotations", "dedup_key", "host_id", "id", "labels", "muted", "notified", "resolved_at", "rule",
		"severity", "started_at", "state", "subject"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys of a resolved alert %q, want %q", keys, want)
	}

	a := decode[apitypes.AlertDetail](t, f.get(t, "/api/v1/alerts/1"), http.StatusOK)
	if a.DedupKey != store.DedupKey(1, "policy_failing", 1, "ssh-root") || a.State != store.AlertResolved ||
		!a.StartedAt.Equal(now.Add(-5*time.Hour)) || !a.ResolvedAt.Equal(now.Add(-2*time.Hour)) || a.Labels["hostname"] != "web-1" ||
		a.Annotations["summary"] != "policy_failing on web-1" || !a.Notified || a.Muted {
		t.Errorf("alert 1 = %+v", a.Alert)
	}
	muted := decode[apitypes.AlertDetail](t, f.get(t, "/api/v1/alerts/3"), http.StatusOK)
	if !muted.Muted || muted.Notified || muted.Notifications == nil || len(muted.Notifications) != 0 {
		t.Errorf("muted alert 3 = %+v", muted)
	}
}

func TestGetAlertWithNotifications(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	a := decode[apitypes.AlertDetail](t, f.get(t, "/api/v1/alerts/1"), http.StatusOK)
	var got []string
	for _, n := range a.Notifications {
		got = append(got, n.Receiver+" "+n.Event+" "+n.State)
	}
	if want := []string{"slack trigger sent", "slack resolve pending"}; !slices.Equal(got, want) {
		t.Errorf("alert 1 notifications %q, want %q (oldest first)", got, want)
	}
	dead := decode[apitypes.AlertDetail](t, f.get(t, "/api/v1/alerts/2"), http.StatusOK)
	if len(dead.Notifications) != 2 || dead.Notifications[1].State != store.NotificationDead ||
		dead.Notifications[1].LastStatus != 404 || dead.Notifications[1].Attempts != 1 {
		t.Errorf("alert 2 notifications %+v", dead.Notifications)
	}
	wantError(t, f.get(t, "/api/v1/alerts/99"), http.StatusNotFound, "alert 99 not found")
	wantError(t, f.get(t, "/api/v1/alerts/one"), http.StatusBadRequest, `alert id "one" is not a positive integer`)
	wantError(t, f.get(t, "/api/v1/alerts/-1"), http.StatusBadRequest, "not a positive integer")
}

func TestAckAlert(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	ack := func(path, body string) *apitypes.Alert {
		t.Helper()
		a := decode[apitypes.Alert](t, f.send(t, http.MethodPost, path, "Bearer "+token, "application/json", body), http.StatusOK)
		return &a
	}

	a := ack("/api/v1/alerts/2/ack", `{"comment":"on it"}`)
	if a.State != store.AlertAcknowledged || a.AckedBy != "ops-token" || a.AckComment != "on it" || !a.AckedAt.Equal(now) {
		t.Errorf("acked = %+v", a)
	}
	// The receivers sent the trigger get an acknowledge, in order.
	d := decode[apitypes.AlertDetail](t, f.get(t, "/api/v1/alerts/2"), http.StatusOK)
	var events []string
	for _, n := range d.Notifications {
		events = append(events, n.Receiver+" "+n.Event)
	}
	if want := []string{"pager trigger", "slack trigger", "pager acknowledge", "slack acknowledge"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}

	// A second ack keeps the first and calls no hook.
	again := ack("/api/v1/alerts/2/ack", `{"comment":"me too"}`)
	if again.AckComment != "on it" || !again.AckedAt.Equal(now) {
		t.Errorf("acked twice = %+v", again)
	}
	// The body may be left out.
	if b := ack("/api/v1/alerts/4/ack", ""); b.State != store.AlertAcknowledged || b.AckComment != "" {
		t.Errorf("acked without a body = %+v", b)
	}
	open := decode[apitypes.AlertList](t, f.get(t, "/api/v1/alerts?state=acknowledged"), http.StatusOK)
	if got := alertIDs(open.Alerts); !slices.Equal(got, []int64{4, 2}) {
		t.Errorf("acknowledged alerts %v", got)
	}

	cases := []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/v1/alerts/1/ack", `{}`, http.StatusConflict, "alert 1 is already resolved"},
		{"/api/v1/alerts/99/ack", `{}`, http.StatusNotFound, "alert 99 not found"},
		{"/api/v1/alerts/x/ack", `{}`, http.StatusBadRequest, "not a positive integer"},
		{"/api/v1/alerts/3/ack", `{"note":"x"}`, http.StatusBadRequest, "unknown field"},
		{"/api/v1/alerts/3/ack", `{"comment":5}`, http.StatusBadRequest, "one JSON object"},
		{"/api/v1/alerts/3/ack", `{"comment":"a"} {}`, http.StatusBadRequest, "one JSON object"},
		{"/api/v1/alerts/3/ack", `{"comment":"` + strings.Repeat("c", 1025) + `"}`, http.StatusBadRequest, "at most 1024"},
		{"/api/v1/alerts/3/ack", `{"comment":"` + strings.Repeat("c", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tc := range cases {
		wantError(t, f.send(t, http.MethodPost, tc.path, "Bearer "+token, "application/json", tc.body), tc.status, tc.want)
	}
	if s := decode[apitypes.AlertDetail](t, f.get(t, "/api/v1/alerts/3"), http.StatusOK); s.State != store.AlertFiring {
		t.Errorf("alert 3 after refused acks = %+v", s)
	}

	if acked, _, _ := f.hooks(); !slices.Equal(acked, []int64{2, 4}) {
		t.Errorf("AlertAcked called for %v, want [2 4]", acked)
	}
	audit := decode[apitypes.AuditList](t, f.get(t, "/api/v1/audit?action=alert_acknowledged"), http.StatusOK)
	var entries []string
	for _, e := range audit.Entries {
		entries = append(entries, e.Actor+" "+e.Subject)
	}
	if want := []string{"ops-token 4", "ops-token 2"}; !slices.Equal(entries, want) {
		t.Errorf("audit %q, want %q", entries, want)
	}
}
