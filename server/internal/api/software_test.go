package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

func addSoftware(f *fixture) {
	// openssl 3.0.11 (id 1) on hosts 1..30, openssl 3.0.13 (id 2) on host 5,
	// curl (id 3) on host 1.
	for h := int64(30); h >= 1; h-- { // inserted out of order on purpose
		f.store.AddSoftware(store.SoftwareHit{SoftwareID: 1, Name: "openssl", Version: "3.0.11", Arch: "amd64", Source: "dpkg", HostID: h, Hostname: fmt.Sprintf("h%d", h)})
	}
	f.store.AddSoftware(store.SoftwareHit{SoftwareID: 2, Name: "openssl", Version: "3.0.13", Source: "rpm", HostID: 5, Hostname: "h5"})
	f.store.AddSoftware(store.SoftwareHit{SoftwareID: 3, Name: "curl", Version: "7.88", Source: "dpkg", HostID: 1, Hostname: "h1"})
}

func TestSearchSoftware(t *testing.T) {
	f := newFixture(t)
	addSoftware(f)

	t.Run("name is required", func(t *testing.T) {
		for _, q := range []string{"", "?name=", "?version=3.0.11"} {
			wantError(t, f.get(t, "/api/v1/software"+q), http.StatusBadRequest, "name")
		}
	})
	t.Run("fields", func(t *testing.T) {
		rec := f.get(t, "/api/v1/software?name=curl")
		body := rec.Body.String()
		list := decode[apitypes.SoftwareList](t, rec, http.StatusOK)
		want := apitypes.SoftwareHit{SoftwareID: 3, Name: "curl", Version: "7.88", Source: "dpkg", HostID: 1, Hostname: "h1"}
		if len(list.Software) != 1 || list.Software[0] != want || list.NextCursor != "" {
			t.Fatalf("got %+v", list)
		}
		if !strings.Contains(body, `"arch":""`) {
			t.Errorf("arch is not always present: %s", body)
		}
	})
	t.Run("version filter", func(t *testing.T) {
		list := decode[apitypes.SoftwareList](t, f.get(t, "/api/v1/software?name=openssl&version=3.0.13"), http.StatusOK)
		if len(list.Software) != 1 || list.Software[0].SoftwareID != 2 {
			t.Fatalf("got %+v", list.Software)
		}
	})
	t.Run("no match", func(t *testing.T) {
		rec := f.get(t, "/api/v1/software?name=OpenSSL&match=exact")
		body := rec.Body.String()
		decode[apitypes.SoftwareList](t, rec, http.StatusOK)
		if !strings.Contains(body, `"software":[]`) {
			t.Errorf("empty result is not []: %s", body)
		}
	})
	t.Run("pages in (software id, host id) order", func(t *testing.T) {
		var got []string
		cursor := ""
		for page := 0; page < 10; page++ {
			q := url.Values{"name": {"openssl"}, "limit": {"7"}, "cursor": {cursor}}
			list := decode[apitypes.SoftwareList](t, f.get(t, "/api/v1/software?"+q.Encode()), http.StatusOK)
			for _, h := range list.Software {
				got = append(got, fmt.Sprintf("%d/%d", h.SoftwareID, h.HostID))
			}
			if cursor = list.NextCursor; cursor == "" {
				break
			}
		}
		var want []string
		for h := 1; h <= 30; h++ {
			want = append(want, fmt.Sprintf("1/%d", h))
		}
		want = append(want, "2/5")
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("got  %v\nwant %v", got, want)
		}
	})
	t.Run("bad cursor and limit", func(t *testing.T) {
		wantError(t, f.get(t, "/api/v1/software?name=openssl&limit=0"), http.StatusBadRequest, "limit")
		wantError(t, f.get(t, "/api/v1/software?name=openssl&cursor=xyz"), http.StatusBadRequest, "cursor")
		// A hosts cursor is not a software cursor.
		hostsCursor := "eyJob3N0bmFtZSI6ImEiLCJpZCI6MX0" // {"hostname":"a","id":1}
		wantError(t, f.get(t, "/api/v1/software?name=openssl&cursor="+hostsCursor), http.StatusBadRequest, "cursor")
	})
}

func TestSearchSoftwareForms(t *testing.T) {
	f := newFixture(t)
	addSoftware(f)
	ids := func(query string) string {
		t.Helper()
		list := decode[apitypes.SoftwareList](t, f.get(t, "/api/v1/software?"+query+"&limit=1000"), http.StatusOK)
		seen, out := map[int64]bool{}, []string{}
		for _, h := range list.Software {
			if !seen[h.SoftwareID] {
				seen[h.SoftwareID] = true
				out = append(out, fmt.Sprint(h.SoftwareID))
			}
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ query, want string }{
		{"name=open", "1,2"},
		{"name=OPENS", "1,2"},
		{"name=CU", "3"},
		{"name=" + url.QueryEscape("*SSL*"), "1,2"},
		{"name=" + url.QueryEscape("*r*"), "3"},
		{"name=ssl", ""},
		{"name=ssl&match=glob", ""},
		{"name=" + url.QueryEscape("*ssl") + "&match=prefix", ""},
		{"name=openssl&match=exact", "1,2"},
		{"name=opens&match=exact", ""},
		{"name=openssl&version=" + url.QueryEscape("<3.0.12"), "1"},
		{"name=openssl&version=" + url.QueryEscape(">=3.0.0 <3.0.14"), "1,2"},
		{"name=openssl&version=" + url.QueryEscape(">3.0.11,!=3.0.14"), "2"},
		{"name=o&version=3.0.13", "2"},
	} {
		if got := ids(c.query); got != c.want {
			t.Errorf("%s: software ids %q, want %q", c.query, got, c.want)
		}
	}
	for _, c := range []struct{ query, want string }{
		{"name=openssl&match=fuzzy", "match"},
		{"name=openssl&version=" + url.QueryEscape(">="), "version"},
		{"name=openssl&version=" + url.QueryEscape("1<2"), "version"},
	} {
		wantError(t, f.get(t, "/api/v1/software?"+c.query), http.StatusBadRequest, c.want)
		wantError(t, f.get(t, "/api/v1/software/versions?"+c.query), http.StatusBadRequest, c.want)
	}
}

func TestSoftwareVersions(t *testing.T) {
	f := newFixture(t)
	addSoftware(f)
	wantError(t, f.get(t, "/api/v1/software/versions"), http.StatusBadRequest, "name")
	rec := f.get(t, "/api/v1/software/versions?name=OPEN")
	list := decode[apitypes.SoftwareVersionList](t, rec, http.StatusOK)
	want := []apitypes.SoftwareVersion{
		{Name: "openssl", Version: "3.0.11", Source: "dpkg", Hosts: 30},
		{Name: "openssl", Version: "3.0.13", Source: "rpm", Hosts: 1},
	}
	if fmt.Sprint(list.Versions) != fmt.Sprint(want) {
		t.Errorf("versions = %+v, want %+v", list.Versions, want)
	}
	list = decode[apitypes.SoftwareVersionList](t, f.get(t, "/api/v1/software/versions?name=none"), http.StatusOK)
	if list.Versions == nil || len(list.Versions) != 0 {
		t.Errorf("versions of nothing = %#v, want []", list.Versions)
	}
	list = decode[apitypes.SoftwareVersionList](t, f.get(t, "/api/v1/software/versions?name=openssl&match=exact&version="+url.QueryEscape(">3.0.11")), http.StatusOK)
	if len(list.Versions) != 1 || list.Versions[0].Version != "3.0.13" {
		t.Errorf("versions >3.0.11 = %+v", list.Versions)
	}
}
