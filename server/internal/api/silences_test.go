package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/apitypes"
)

func silenceIDs(ss []apitypes.Silence) []int64 {
	ids := make([]int64, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

func TestAddSilenceRefuses(t *testing.T) {
	f := newAlertFixture(t)
	valid := map[string]any{"matchers": []any{"rule=host_offline"}, "comment": "db maintenance", "duration": "2h"}
	cases := []struct {
		name   string
		change map[string]any // nil value: delete the key
		want   string
	}{
		{"no matchers", map[string]any{"matchers": nil}, "at least one matcher"},
		{"empty matchers", map[string]any{"matchers": []any{}}, "at least one matcher"},
		{"matcher without operator", map[string]any{"matchers": []any{"rule"}}, "matchers[0]: matcher \"rule\": want name=value"},
		{"bad label name", map[string]any{"matchers": []any{"rule=x", "1st=x"}}, "matchers[1]: matcher \"1st=x\": label name"},
		{"bad regexp", map[string]any{"matchers": []any{"hostname=~db-("}}, "matchers[0]: matcher"},
		{"object with bad op", map[string]any{"matchers": []any{map[string]string{"name": "rule", "op": "==", "value": "x"}}}, "operator must be"},
		{"object with unknown key", map[string]any{"matchers": []any{map[string]string{"name": "rule", "op": "=", "val": "x"}}}, `unknown field "val"`},
		{"number", map[string]any{"matchers": []any{5}}, "matchers[0]: want a string"},
		{"matches everything", map[string]any{"matchers": []any{"team!=db", "hostname=~.*"}}, "at least one must not match an empty value"},
		{"no comment", map[string]any{"comment": nil}, "comment is required"},
		{"blank comment", map[string]any{"comment": " \n"}, "comment is required"},
		{"both ends", map[string]any{"ends_at": "2025-03-01T14:00:00Z"}, "ends_at or duration, not both"},
		{"no end", map[string]any{"duration": nil}, "ends_at or duration is required"},
		{"ends in the past", map[string]any{"duration": nil, "ends_at": "2025-03-01T11:00:00Z"}, "not in the future"},
		{"ends now", map[string]any{"duration": nil, "ends_at": "2025-03-01T12:00:00Z"}, "not in the future"},
		{"ended before it starts", map[string]any{"duration": "1h", "starts_at": "2025-03-01T09:00:00Z"}, "not in the future"},
		{"ends before it starts", map[string]any{"duration": nil, "starts_at": "2025-03-02T00:00:00Z", "ends_at": "2025-03-01T13:00:00Z"}, "ends_at must be after starts_at"},
		{"negative duration", map[string]any{"duration": "-1h"}, `duration "-1h"`},
		{"duration in words", map[string]any{"duration": "a while"}, `duration "a while"`},
		{"huge day count", map[string]any{"duration": "99999999999999d"}, `duration "99999999999999d"`},
		{"bad time", map[string]any{"starts_at": "tomorrow"}, "one JSON object"},
		{"unknown field", map[string]any{"createdBy": "me"}, "unknown field"},
		{"two problems at once", map[string]any{"matchers": []any{"x"}, "comment": nil}, "comment is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range valid {
				body[k] = v
			}
			for k, v := range tc.change {
				if v == nil {
					delete(body, k)
				} else {
					body[k] = v
				}
			}
			raw, _ := json.Marshal(body)
			wantError(t, f.send(t, http.MethodPost, "/api/v1/silences", "Bearer "+token, "application/json", string(raw)), http.StatusBadRequest, tc.want)
		})
	}
	all := decode[apitypes.SilenceList](t, f.get(t, "/api/v1/silences?all=true"), http.StatusOK)
	if _, n, _ := f.hooks(); len(all.Silences) != 0 || n != 0 {
		t.Errorf("refused silences stored: %+v, SilencesChanged called %d times", all.Silences, n)
	}
}

func TestSilenceLifecycle(t *testing.T) {
	f := newAlertFixture(t)
	add := func(body string) apitypes.Silence {
		t.Helper()
		return decode[apitypes.Silence](t, f.send(t, http.MethodPost, "/api/v1/silences", "Bearer "+token, "application/json", body), http.StatusCreated)
	}
	now1 := add(`{"matchers":["rule=host_offline",{"name":"hostname","op":"=~","value":"db-.*"}],"comment":"db maintenance","duration":"2h"}`)
	wantMatchers := []string{"rule=host_offline", "hostname=~db-.*"}
	var got []string
	for _, m := range now1.Matchers {
		got = append(got, m.String())
	}
	if now1.ID != 1 || !slices.Equal(got, wantMatchers) || now1.State != apitypes.SilenceActive || now1.CreatedBy != "ops-token" ||
		!now1.StartsAt.Equal(now) || !now1.EndsAt.Equal(now.Add(2*time.Hour)) || !now1.CreatedAt.Equal(now) || now1.Comment != "db maintenance" {
		t.Errorf("silence 1 = %+v", now1)
	}
	later := add(`{"matchers":["team=\"data eng\""],"comment":"window","starts_at":"2025-03-02T00:00:00Z","ends_at":"2025-03-02T04:00:00+02:00"}`)
	if later.State != apitypes.SilencePending || !later.EndsAt.Equal(time.Date(2025, 3, 2, 2, 0, 0, 0, time.UTC)) ||
		later.Matchers[0] != mustMatcher(t, "team", match.Equal, "data eng") {
		t.Errorf("silence 2 = %+v", later)
	}
	days := add(`{"matchers":["rule!~policy_.*","severity=critical"],"comment":"long","duration":"7d"}`)
	if !days.EndsAt.Equal(now.Add(7 * 24 * time.Hour)) {
		t.Errorf("silence 3 = %+v", days)
	}

	list := decode[apitypes.SilenceList](t, f.get(t, "/api/v1/silences"), http.StatusOK)
	if ids := silenceIDs(list.Silences); !slices.Equal(ids, []int64{3, 2, 1}) {
		t.Errorf("silences %v", ids)
	}
	one := decode[apitypes.Silence](t, f.get(t, "/api/v1/silences/2"), http.StatusOK)
	if one.Comment != "window" {
		t.Errorf("silence 2 = %+v", one)
	}

	expired := decode[apitypes.Silence](t, f.do(t, http.MethodDelete, "/api/v1/silences/1", "Bearer "+token), http.StatusOK)
	if expired.State != apitypes.SilenceExpired || expired.ExpiredBy != "ops-token" || !expired.ExpiredAt.Equal(now) {
		t.Errorf("expired = %+v", expired)
	}
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/silences/1", "Bearer "+token), http.StatusConflict, "silence 1 has already ended")
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/silences/9", "Bearer "+token), http.StatusNotFound, "silence 9 not found")
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/silences/x", "Bearer "+token), http.StatusBadRequest, `silence id "x" is not a positive integer`)
	wantError(t, f.get(t, "/api/v1/silences/9"), http.StatusNotFound, "silence 9 not found")
	wantError(t, f.get(t, "/api/v1/silences?all=maybe"), http.StatusBadRequest, "all must be true or false")
	wantError(t, f.get(t, "/api/v1/silences?cursor=eyJpZCI6MX0"), http.StatusBadRequest, "invalid cursor")

	active := decode[apitypes.SilenceList](t, f.get(t, "/api/v1/silences"), http.StatusOK)
	if ids := silenceIDs(active.Silences); !slices.Equal(ids, []int64{3, 2}) {
		t.Errorf("silences after expiring 1: %v", ids)
	}
	// Every silence, one a page.
	var ids []int64
	for cursor, pages := "", 0; pages < 10; pages++ {
		page := decode[apitypes.SilenceList](t, f.get(t, "/api/v1/silences?all=true&limit=1&cursor="+url.QueryEscape(cursor)), http.StatusOK)
		ids = append(ids, silenceIDs(page.Silences)...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(ids, []int64{3, 2, 1}) {
		t.Errorf("all silences by pages: %v", ids)
	}

	if _, n, _ := f.hooks(); n != 4 {
		t.Errorf("SilencesChanged called %d times, want 4 (three adds, one expire)", n)
	}
	audit := decode[apitypes.AuditList](t, f.get(t, "/api/v1/audit"), http.StatusOK)
	var entries []string
	for _, e := range audit.Entries {
		entries = append(entries, e.Action+" "+e.Subject+" "+e.Actor)
	}
	want := []string{"silence_expired 1 ops-token", "silence_added 3 ops-token", "silence_added 2 ops-token", "silence_added 1 ops-token"}
	if !slices.Equal(entries, want) {
		t.Errorf("audit %q, want %q", entries, want)
	}
	if !strings.Contains(f.logs.String(), `"msg":"silence expired"`) {
		t.Errorf("no log of the expiry:\n%s", f.logs)
	}
}

func mustMatcher(t *testing.T, name string, op match.Op, value string) match.Matcher {
	t.Helper()
	m, err := match.New(name, op, value)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
