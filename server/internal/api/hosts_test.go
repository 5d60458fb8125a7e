package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

// addHosts stores n online hosts whose names repeat every 97 ids, so that
// paging must break ties on id to return each host once.
func addHosts(f *fixture, n int) {
	for i := 1; i <= n; i++ {
		f.store.AddHost(store.Host{
			ID:          int64(i),
			Hostname:    fmt.Sprintf("host-%03d", i%97),
			OS:          "linux",
			EnrolledAt:  now.Add(-time.Hour),
			ConnectedAt: now.Add(-time.Minute),
			LastSeen:    now.Add(-10 * time.Second),
		})
	}
}

func TestListHostsPagesThroughAll(t *testing.T) {
	f := newFixture(t)
	addHosts(f, 250)

	var got []apitypes.Host
	var sizes []int
	cursor := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("paging does not end")
		}
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		list := decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts?"+q.Encode()), http.StatusOK)
		sizes = append(sizes, len(list.Hosts))
		got = append(got, list.Hosts...)
		if list.NextCursor == "" {
			break
		}
		cursor = list.NextCursor
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("page sizes %v, want [100 100 50]", sizes)
	}
	seen := map[int64]bool{}
	for i, h := range got {
		if seen[h.ID] {
			t.Fatalf("host %d returned twice", h.ID)
		}
		seen[h.ID] = true
		if i > 0 {
			prev := got[i-1]
			if prev.Hostname > h.Hostname || (prev.Hostname == h.Hostname && prev.ID > h.ID) {
				t.Fatalf("hosts out of (hostname, id) order at %d: %+v then %+v", i, prev, h)
			}
		}
	}
	if len(seen) != 250 {
		t.Fatalf("got %d distinct hosts, want 250", len(seen))
	}
}

func TestListHostsLimits(t *testing.T) {
	cases := []struct {
		query    string
		hosts    int
		wantLen  int
		wantNext bool
	}{
		{"", 150, 100, true},
		{"?limit=1000", 1001, 1000, true},
		{"?limit=1000", 1000, 1000, false},
		{"?limit=5", 5, 5, false},
		{"?limit=1", 3, 1, true},
		{"", 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%d hosts", tc.query, tc.hosts), func(t *testing.T) {
			f := newFixture(t)
			addHosts(f, tc.hosts)
			rec := f.get(t, "/api/v1/hosts"+tc.query)
			body := rec.Body.String()
			list := decode[apitypes.HostList](t, rec, http.StatusOK)
			if len(list.Hosts) != tc.wantLen || (list.NextCursor != "") != tc.wantNext {
				t.Fatalf("got %d hosts, next %q; want %d, next %v", len(list.Hosts), list.NextCursor, tc.wantLen, tc.wantNext)
			}
			if tc.hosts == 0 && !strings.Contains(body, `"hosts":[]`) {
				t.Errorf("empty list is not []: %s", body)
			}
		})
	}
}

func TestListHostsBadQuery(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, query, want string
	}{
		{"limit zero", "limit=0", "limit"},
		{"limit too big", "limit=1001", "limit"},
		{"limit negative", "limit=-5", "limit"},
		{"limit not a number", "limit=ten", "limit"},
		{"cursor not base64", "cursor=%21%21%21", "cursor"},
		{"cursor not json", "cursor=" + b64("hello"), "cursor"},
		{"cursor empty object", "cursor=" + b64("{}"), "cursor"},
		{"cursor of software", "cursor=" + b64(`{"software_id":1,"host_id":2}`), "cursor"},
		{"cursor trailing data", "cursor=" + b64(`{"hostname":"a","id":1}{}`), "cursor"},
		{"cursor array", "cursor=" + b64(`[1]`), "cursor"},
		{"cursor too long", "cursor=" + strings.Repeat("A", 2000), "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			addHosts(f, 3)
			wantError(t, f.get(t, "/api/v1/hosts?"+tc.query), http.StatusBadRequest, tc.want)
		})
	}
	t.Run("padded cursor is accepted", func(t *testing.T) {
		f := newFixture(t)
		addHosts(f, 3)
		c := base64.URLEncoding.EncodeToString([]byte(`{"hostname":"host-001","id":1}`))
		list := decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts?cursor="+url.QueryEscape(c)), http.StatusOK)
		if len(list.Hosts) != 2 || list.Hosts[0].ID != 2 {
			t.Fatalf("after host-001/1 got %+v, want hosts 2 and 3", list.Hosts)
		}
	})
}

func TestGetHost(t *testing.T) {
	f := newFixture(t)
	f.store.AddHost(store.Host{
		ID: 42, Hostname: "db-1", OS: "linux", Platform: "debian", OSVersion: "12",
		Arch: "amd64", AgentVersion: "0.3.0",
		EnrolledAt:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)),
		ConnectedAt: now.Add(-time.Hour), LastSeen: now.Add(-5 * time.Second),
	})
	t.Run("found", func(t *testing.T) {
		rec := f.get(t, "/api/v1/hosts/42")
		body := rec.Body.String()
		h := decode[apitypes.Host](t, rec, http.StatusOK)
		want := apitypes.Host{
			ID: 42, Hostname: "db-1", OS: "linux", Platform: "debian", OSVersion: "12",
			Arch: "amd64", AgentVersion: "0.3.0", Online: true,
			LastSeen: now.Add(-5 * time.Second), EnrolledAt: time.Date(2025, 1, 2, 2, 4, 5, 0, time.UTC),
		}
		if !reflect.DeepEqual(h, want) {
			t.Fatalf("got %+v\nwant %+v", h, want)
		}
		if !strings.Contains(body, `"enrolled_at":"2025-01-02T02:04:05Z"`) {
			t.Errorf("times are not RFC 3339 UTC: %s", body)
		}
	})
	cases := []struct {
		name, id string
		status   int
	}{
		{"unknown", "43", http.StatusNotFound},
		{"not an integer", "db-1", http.StatusBadRequest},
		{"zero", "0", http.StatusBadRequest},
		{"negative", "-1", http.StatusBadRequest},
		{"fraction", "1.5", http.StatusBadRequest},
		{"overflow", "99999999999999999999", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, f.get(t, "/api/v1/hosts/"+tc.id), tc.status, "host")
			wantError(t, f.get(t, "/api/v1/hosts/"+tc.id+"/inventory"), tc.status, "host")
		})
	}
}

func TestOnline(t *testing.T) {
	window := 90 * time.Second
	cases := []struct {
		name                              string
		connected, disconnected, lastSeen time.Duration // before now; -1 means never
		want                              bool
	}{
		{"connected, recent", time.Hour, -1, 10 * time.Second, true},
		{"connected, last seen at the window edge", time.Hour, -1, window, true},
		{"connected, silent too long", time.Hour, -1, window + time.Second, false},
		{"reconnected after a disconnect", time.Minute, time.Hour, time.Second, true},
		{"disconnected after connecting", time.Hour, time.Minute, 2 * time.Minute, false},
		{"disconnected, heartbeat raced the disconnect", time.Hour, time.Minute, 0, false},
		{"never seen", -1, -1, -1, false},
		{"enrolled, never connected", -1, -1, -1, false},
	}
	at := func(d time.Duration) time.Time {
		if d < 0 {
			return time.Time{}
		}
		return now.Add(-d)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := store.Host{ID: 1, Hostname: "a", ConnectedAt: at(tc.connected), DisconnectedAt: at(tc.disconnected), LastSeen: at(tc.lastSeen)}
			if got := api.Online(h, now, window); got != tc.want {
				t.Errorf("Online = %v, want %v", got, tc.want)
			}
			// The handler uses the same rule with its configured clock and
			// default window.
			f := newFixture(t)
			f.store.AddHost(h)
			if got := decode[apitypes.Host](t, f.get(t, "/api/v1/hosts/1"), http.StatusOK); got.Online != tc.want {
				t.Errorf("API online = %v, want %v", got.Online, tc.want)
			}
		})
	}
	t.Run("configured window", func(t *testing.T) {
		h := store.Host{ID: 1, ConnectedAt: now.Add(-time.Hour), LastSeen: now.Add(-5 * time.Minute)}
		st := newFixture(t).store
		st.AddHost(h)
		handler := api.New(api.Config{Store: st, Now: func() time.Time { return now }, OnlineWindow: 10 * time.Minute})
		f := &fixture{store: st, handler: handler}
		if got := decode[apitypes.Host](t, f.get(t, "/api/v1/hosts/1"), http.StatusOK); !got.Online {
			t.Error("host seen 5 minutes ago is offline with a 10 minute window")
		}
	})
}

func TestInventory(t *testing.T) {
	f := newFixture(t)
	f.store.AddHost(store.Host{ID: 1, Hostname: "a"})
	f.store.AddHost(store.Host{ID: 2, Hostname: "b"})
	collected := time.Date(2025, 2, 28, 23, 0, 0, 0, time.UTC)
	osSection := json.RawMessage(`{"arch":"amd64","name":"Debian GNU/Linux","platform":"debian"}`)
	f.store.SetInventory(store.InventoryDoc{
		HostID:      1,
		CollectedAt: collected,
		Sections:    map[string]json.RawMessage{"os": osSection},
		Hashes:      map[string]string{"os": "abc"},
		Errors:      map[string]string{"ports": "unsupported"},
	})

	t.Run("with inventory", func(t *testing.T) {
		inv := decode[apitypes.Inventory](t, f.get(t, "/api/v1/hosts/1/inventory"), http.StatusOK)
		if inv.HostID != 1 || !inv.CollectedAt.Equal(collected) {
			t.Errorf("host_id %d collected_at %v", inv.HostID, inv.CollectedAt)
		}
		if string(inv.Sections["os"]) != string(osSection) {
			t.Errorf("os section %s, want it unchanged: %s", inv.Sections["os"], osSection)
		}
		if inv.Hashes["os"] != "abc" || inv.Errors["ports"] != "unsupported" {
			t.Errorf("hashes %v errors %v", inv.Hashes, inv.Errors)
		}
	})
	t.Run("known host without inventory", func(t *testing.T) {
		rec := f.get(t, "/api/v1/hosts/2/inventory")
		body := rec.Body.String()
		decode[apitypes.Inventory](t, rec, http.StatusOK)
		for _, want := range []string{`"sections":{}`, `"hashes":{}`, `"errors":{}`} {
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %s: %s", want, body)
			}
		}
		if strings.Contains(body, "collected_at") {
			t.Errorf("collected_at present before any inventory: %s", body)
		}
	})
}
