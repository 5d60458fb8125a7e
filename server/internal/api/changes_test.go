package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

// addChanges gives hosts 1 and 2 a history: host 1 a first inventory and
// then, an hour apart, n software changes; host 2 one admin_added.
func addChanges(f *fixture, n int) {
	f.store.AddHost(store.Host{ID: 1, Hostname: "a"})
	f.store.AddHost(store.Host{ID: 2, Hostname: "b"})
	f.store.AddHost(store.Host{ID: 3, Hostname: "quiet"})
	base := now.Add(-time.Duration(n+1) * time.Hour)
	f.store.AddChange(store.Change{ID: 1, HostID: 1, Kind: "first_inventory", FirstSeen: base, Seq: 1})
	for i := 1; i <= n; i++ {
		kind := []string{"software_installed", "software_removed", "software_upgraded"}[i%3]
		f.store.AddChange(store.Change{ID: int64(1 + i), HostID: 1, Kind: kind, Subject: fmt.Sprintf("pkg%d", i%4),
			OldValue: "1.0", NewValue: "2.0", Details: json.RawMessage(`{"source":"dpkg"}`),
			FirstSeen: base.Add(time.Duration(i) * time.Hour), Seq: uint64(1 + i)})
	}
	f.store.AddChange(store.Change{ID: 1000, HostID: 2, Kind: "admin_added", Subject: "mallory", FirstSeen: base, Seq: 7})
}

func changeIDs(cs []apitypes.Change) []int64 {
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestHostChanges(t *testing.T) {
	f := newFixture(t)
	addChanges(f, 3)
	rec := f.get(t, "/api/v1/hosts/1/changes")
	body := rec.Body.String()
	list := decode[apitypes.ChangeList](t, rec, http.StatusOK)
	if got := changeIDs(list.Changes); !slices.Equal(got, []int64{4, 3, 2, 1}) || list.NextCursor != "" {
		t.Fatalf("changes %v next %q, want 4 3 2 1 newest first, no cursor", got, list.NextCursor)
	}
	want := apitypes.Change{ID: 4, HostID: 1, Kind: "software_installed", Subject: "pkg3", OldValue: "1.0", NewValue: "2.0",
		Details: json.RawMessage(`{"source":"dpkg"}`), FirstSeen: now.Add(-time.Hour), Seq: 4}
	if got := list.Changes[0]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("newest change = %+v\nwant %+v", got, want)
	}
	// Every field is present, except details when there are none; times
	// are RFC 3339 UTC.
	for _, s := range []string{`"old_value":""`, `"new_value":""`, `"first_seen":"` + now.Add(-time.Hour).Format(time.RFC3339) + `"`,
		`"details":{"source":"dpkg"}`, `"subject":""`} {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %s: %s", s, body)
		}
	}
	if strings.Count(body, `"details"`) != 3 {
		t.Errorf("details on a change without any: %s", body)
	}
	t.Run("known host without changes", func(t *testing.T) {
		rec := f.get(t, "/api/v1/hosts/3/changes")
		body := rec.Body.String()
		if list := decode[apitypes.ChangeList](t, rec, http.StatusOK); len(list.Changes) != 0 || !strings.Contains(body, `"changes":[]`) {
			t.Errorf("empty list is not []: %s", body)
		}
	})
	t.Run("fleet", func(t *testing.T) {
		list := decode[apitypes.ChangeList](t, f.get(t, "/api/v1/changes"), http.StatusOK)
		if got := changeIDs(list.Changes); !slices.Equal(got, []int64{4, 3, 2, 1000, 1}) {
			t.Errorf("fleet changes %v, want 4 3 2 1000 1 (equal times: higher id first)", got)
		}
	})
}

func TestChangesPages(t *testing.T) {
	f := newFixture(t)
	addChanges(f, 250)
	var got []int64
	cursor := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("paging does not end")
		}
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		list := decode[apitypes.ChangeList](t, f.get(t, "/api/v1/hosts/1/changes?"+q.Encode()), http.StatusOK)
		got = append(got, changeIDs(list.Changes)...)
		if list.NextCursor == "" {
			break
		}
		cursor = list.NextCursor
	}
	if len(got) != 251 || got[0] != 251 || got[250] != 1 || !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("paged %d changes from %d to %d; want 251, newest first", len(got), got[0], got[len(got)-1])
	}
}

func TestChangesFilters(t *testing.T) {
	f := newFixture(t)
	addChanges(f, 6)
	at := func(h int) string {
		return url.QueryEscape(now.Add(-time.Duration(h) * time.Hour).Format(time.RFC3339))
	}
	cases := []struct {
		name, query string
		want        []int64
	}{
		{"one kind", "kind=software_removed", []int64{5, 2}},
		{"repeated kinds", "kind=software_removed&kind=first_inventory", []int64{5, 2, 1}},
		{"comma-separated kinds", "kind=software_removed,%20first_inventory", []int64{5, 2, 1}},
		{"subject", "subject=pkg1", []int64{6, 2}},
		{"since inclusive", "since=" + at(2), []int64{7, 6}},
		{"until exclusive", "until=" + at(5), []int64{2, 1}},
		{"since and until", "since=" + at(4) + "&until=" + at(2), []int64{5, 4}},
		{"fractional seconds and offsets", "since=" + url.QueryEscape(now.Add(-2*time.Hour).In(time.FixedZone("X", 3600)).Format(time.RFC3339Nano)), []int64{7, 6}},
		{"everything at once", "kind=software_upgraded&subject=pkg2&since=" + at(6), []int64{3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list := decode[apitypes.ChangeList](t, f.get(t, "/api/v1/hosts/1/changes?"+tc.query), http.StatusOK)
			if got := changeIDs(list.Changes); !slices.Equal(got, tc.want) {
				t.Errorf("changes %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChangesBadRequests(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, path string
		status     int
		want       string
	}{
		{"unknown host", "/api/v1/hosts/99/changes", http.StatusNotFound, "host 99 not found"},
		{"host id not a number", "/api/v1/hosts/x/changes", http.StatusBadRequest, "host id"},
		{"unknown kind", "/api/v1/hosts/1/changes?kind=software_installed&kind=pkg_added", http.StatusBadRequest, `unknown change kind "pkg_added"`},
		{"unknown kind, fleet", "/api/v1/changes?kind=x", http.StatusBadRequest, "unknown change kind"},
		{"since not a time", "/api/v1/hosts/1/changes?since=24h", http.StatusBadRequest, "since must be an RFC 3339 time"},
		{"until not a time", "/api/v1/changes?until=yesterday", http.StatusBadRequest, "until"},
		{"until before since", "/api/v1/hosts/1/changes?since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z", http.StatusBadRequest, "since must be before until"},
		{"until equals since", "/api/v1/hosts/1/changes?since=2025-03-01T00:00:00Z&until=2025-03-01T00:00:00Z", http.StatusBadRequest, "since must be before until"},
		{"limit", "/api/v1/hosts/1/changes?limit=0", http.StatusBadRequest, "limit"},
		{"host cursor", "/api/v1/hosts/1/changes?cursor=" + b64(`{"hostname":"a","id":1}`), http.StatusBadRequest, "cursor"},
		{"cursor without time", "/api/v1/hosts/1/changes?cursor=" + b64(`{"id":5}`), http.StatusBadRequest, "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			addChanges(f, 2)
			wantError(t, f.get(t, tc.path), tc.status, tc.want)
		})
	}
}

func TestHostDuplicates(t *testing.T) {
	f := newFixture(t)
	f.store.AddHost(store.Host{ID: 1, Hostname: "clone-a", HardwareUUID: "4c4c4544-0042-3510-8052-b4c04f4d4a32",
		MachineID: "abc", Serial: "S1", PossibleDuplicates: []int64{2}})
	f.store.AddHost(store.Host{ID: 2, Hostname: "clone-b", HardwareUUID: "4c4c4544-0042-3510-8052-b4c04f4d4a32", PossibleDuplicates: []int64{1}})
	f.store.AddHost(store.Host{ID: 3, Hostname: "single"})

	rec := f.get(t, "/api/v1/hosts/1")
	body := rec.Body.String()
	h := decode[apitypes.Host](t, rec, http.StatusOK)
	if h.HardwareUUID != "4c4c4544-0042-3510-8052-b4c04f4d4a32" || h.MachineID != "abc" || h.Serial != "S1" || !slices.Equal(h.PossibleDuplicates, []int64{2}) {
		t.Errorf("host 1 = %+v", h)
	}
	if !strings.Contains(body, `"possible_duplicates":[2]`) {
		t.Errorf("body lacks possible_duplicates: %s", body)
	}
	if body := f.get(t, "/api/v1/hosts/3").Body.String(); strings.Contains(body, "possible_duplicates") || strings.Contains(body, "hardware_uuid") {
		t.Errorf("a host without duplicates or identity shows them: %s", body)
	}
	for _, q := range []string{"", "?duplicates=false", "?duplicates=0"} {
		if list := decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts"+q), http.StatusOK); len(list.Hosts) != 3 {
			t.Errorf("hosts%s: %d hosts, want all 3", q, len(list.Hosts))
		}
	}
	list := decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts?duplicates=true&limit=1"), http.StatusOK)
	if len(list.Hosts) != 1 || list.Hosts[0].ID != 1 || list.NextCursor == "" {
		t.Fatalf("first duplicates page = %+v", list)
	}
	list = decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts?duplicates=true&limit=1&cursor="+list.NextCursor), http.StatusOK)
	if len(list.Hosts) != 1 || list.Hosts[0].ID != 2 || list.NextCursor != "" {
		t.Fatalf("second duplicates page = %+v", list)
	}
	wantError(t, f.get(t, "/api/v1/hosts?duplicates=maybe"), http.StatusBadRequest, "duplicates must be true or false")
}
