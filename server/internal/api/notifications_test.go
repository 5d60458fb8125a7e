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

func notificationIDs(ns []apitypes.Notification) []int64 {
	ids := make([]int64, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	return ids
}

func TestListNotificationsFilters(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{6, 5, 4, 3, 2, 1}},
		{"receiver=slack", []int64{5, 4, 3, 1}},
		{"receiver=pager&state=sent", []int64{2}},
		{"state=dead", []int64{6, 3}},
		{"dead_letter=true", []int64{6, 3}},
		{"dead_letter=true&state=dead", []int64{6, 3}},
		{"dead_letter=false", []int64{6, 5, 4, 3, 2, 1}},
		{"state=pending", []int64{4}},
		{"state=skipped", []int64{}},
		{"alert_id=2", []int64{3, 2}},
		{"alert_id=2&dead_letter=true", []int64{3}},
		{"receiver=email", []int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			list := decode[apitypes.NotificationList](t, f.get(t, "/api/v1/notifications?"+tc.query), http.StatusOK)
			if got := notificationIDs(list.Notifications); !slices.Equal(got, tc.want) || list.NextCursor != "" {
				t.Errorf("ids %v, cursor %q; want %v and no cursor", got, list.NextCursor, tc.want)
			}
		})
	}

	alertCursor := decode[apitypes.AlertList](t, f.get(t, "/api/v1/alerts?limit=1"), http.StatusOK).NextCursor
	refused := []struct{ query, want string }{
		{"state=lost", "state must be one of pending, sent, dead, skipped"},
		{"dead_letter=yes", "dead_letter must be true or false"},
		{"dead_letter=true&state=sent", "contradicts state=sent"},
		{"alert_id=two", `alert_id "two" is not a positive integer`},
		{"limit=-1", "limit must be"},
		{"cursor=" + alertCursor, "invalid cursor"},
		{"receiver=" + strings.Repeat("r", 256), "receiver must be at most 255 bytes"},
	}
	for _, tc := range refused {
		wantError(t, f.get(t, "/api/v1/notifications?"+tc.query), http.StatusBadRequest, tc.want)
	}
}

func TestListNotificationsPages(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	var ids []int64
	pages, cursor := 0, ""
	for pages < 10 {
		list := decode[apitypes.NotificationList](t, f.get(t, "/api/v1/notifications?limit=4&cursor="+url.QueryEscape(cursor)), http.StatusOK)
		ids, pages, cursor = append(ids, notificationIDs(list.Notifications)...), pages+1, list.NextCursor
		if cursor == "" {
			break
		}
	}
	if !slices.Equal(ids, []int64{6, 5, 4, 3, 2, 1}) || pages != 2 {
		t.Errorf("ids %v in %d pages, want 6..1 in 2", ids, pages)
	}
}

func TestNotificationsShowNoSecrets(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	rec := f.get(t, "/api/v1/notifications?state=dead")
	body := rec.Body.String()
	if strings.Contains(body, "XXXXSECRETXXXX") || strings.Contains(body, "/services/") {
		t.Fatalf("the Slack URL leaked: %s", body)
	}
	list := decode[apitypes.NotificationList](t, rec, http.StatusOK)
	slack := list.Notifications[1]
	want := `slack receiver "slack": Not Found: "no_service" (POST https://hooks.slack.com/<redacted>)`
	if slack.LastError != want || slack.LastStatus != 404 || !slack.SentAt.IsZero() {
		t.Errorf("dead slack row = %+v; want last_error %q", slack, want)
	}

	// Nothing but these keys: the rows hold no receiver configuration.
	var raw struct {
		Notifications []map[string]json.RawMessage `json:"notifications"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw.Notifications[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wantKeys := []string{"alert_id", "at", "attempts", "created_at", "event", "id", "last_error", "last_status", "receiver", "state"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("keys %q, want %q", keys, wantKeys)
	}
}

func TestNotificationErrorsHideURLs(t *testing.T) {
	f := newAlertFixture(t)
	ctx := t.Context()
	if _, err := f.db.EnrollHost(ctx, store.NewHost{NodeKeyHash: "k", Hostname: "h", EnrolledAt: now}); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ err, want string }{
		{"webhook: post: dial tcp 10.0.0.1:443: connection refused", "webhook: post: dial tcp 10.0.0.1:443: connection refused"},
		{"post https://example.com/hook?token=abc: EOF", "post https://example.com/<redacted>: EOF"},
		{"(https://example.com/a/b), then https://example.com/c.", "(https://example.com/<redacted>), then https://example.com/<redacted>."},
		{`Post "https://user:pw@alerts.example.com:8443/api/v2/alerts": timeout`, `Post "https://alerts.example.com:8443/<redacted>": timeout`},
		{"see https://status.example.com/ for details", "see https://status.example.com/ for details"},
		{"smtp://mail.example.com:587 said 535 authentication failed", "smtp://mail.example.com:587 said 535 authentication failed"},
	}
	receivers := make([]string, len(cases))
	for i := range cases {
		receivers[i] = "r" + string(rune('a'+i))
	}
	if _, err := f.db.ApplyAlertChanges(ctx, store.AlertChanges{At: now.Add(-time.Hour), Open: []store.AlertOpen{{
		Spec: store.AlertSpec{Rule: "r", HostID: 1, Severity: "low"}, Receivers: receivers}}}); err != nil {
		t.Fatal(err)
	}
	claimed, err := f.db.ClaimNotifications(ctx, store.NotificationClaim{Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(claimed) != len(cases) {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	var outs []store.NotificationOutcome
	for i, c := range claimed {
		outs = append(outs, store.NotificationOutcome{ID: c.ID, Attempts: c.Attempts, State: store.NotificationDead, At: now, Error: cases[i].err})
	}
	if _, err := f.db.RecordOutcomes(ctx, outs); err != nil {
		t.Fatal(err)
	}
	list := decode[apitypes.NotificationList](t, f.get(t, "/api/v1/notifications"), http.StatusOK)
	if len(list.Notifications) != len(cases) {
		t.Fatalf("%d notifications, want %d", len(list.Notifications), len(cases))
	}
	for _, n := range list.Notifications {
		if tc := cases[n.ID-1]; n.LastError != tc.want {
			t.Errorf("error %q shown as %q, want %q", tc.err, n.LastError, tc.want)
		}
	}
}
