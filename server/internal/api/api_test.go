package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

func TestAuthentication(t *testing.T) {
	paths := []string{"/api/v1/hosts", "/api/v1/hosts/1", "/api/v1/hosts/1/inventory", "/api/v1/hosts/1/changes",
		"/api/v1/changes", "/api/v1/software?name=x", "/api/v1/nope"}
	cases := []struct {
		name, authorization string
		wantChallenge       string
	}{
		{"no header", "", `Bearer realm="steward"`},
		{"other scheme", "Basic dXNlcjpwYXNz", `Bearer realm="steward"`},
		{"empty token", "Bearer ", `Bearer realm="steward"`},
		{"scheme only", "Bearer", `Bearer realm="steward"`},
		{"wrong token", "Bearer not-the-token", `Bearer realm="steward", error="invalid_token"`},
		{"token differs in case", "Bearer " + strings.ToUpper(token), `Bearer realm="steward", error="invalid_token"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.store.AddHost(store.Host{ID: 1, Hostname: "a"})
			for _, p := range paths {
				rec := f.do(t, http.MethodGet, p, tc.authorization)
				wantError(t, rec, http.StatusUnauthorized, "token")
				if got := rec.Header().Get("WWW-Authenticate"); got != tc.wantChallenge {
					t.Errorf("%s: WWW-Authenticate %q, want %q", p, got, tc.wantChallenge)
				}
			}
		})
	}
	t.Run("valid token, lower-case scheme", func(t *testing.T) {
		f := newFixture(t)
		rec := f.do(t, http.MethodGet, "/api/v1/hosts", "bearer "+token)
		decode[apitypes.HostList](t, rec, http.StatusOK)
	})
}

func TestStoreErrorsAnswer503(t *testing.T) {
	cases := []struct {
		name, method, path string
	}{
		{"token check", "APITokenByHash", "/api/v1/hosts"},
		{"list hosts", "ListHosts", "/api/v1/hosts"},
		{"get host", "GetHost", "/api/v1/hosts/1"},
		{"inventory", "Inventory", "/api/v1/hosts/1/inventory"},
		{"software", "SearchSoftware", "/api/v1/software?name=openssl"},
		{"host changes", "ListChanges", "/api/v1/hosts/1/changes"},
		{"fleet changes", "ListChanges", "/api/v1/changes?kind=admin_added"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.store.AddHost(store.Host{ID: 1, Hostname: "a"})
			f.store.FailWith(errors.New("connection reset by table hosts_secret"), tc.method)
			rec := f.get(t, tc.path)
			wantError(t, rec, http.StatusServiceUnavailable, "unavailable")
			if strings.Contains(rec.Body.String(), "hosts_secret") {
				t.Errorf("503 body leaks the store error: %s", rec.Body)
			}
			if rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			logged := strings.Count(f.logs.String(), "hosts_secret")
			if logged != 1 {
				t.Errorf("store error logged %d times, want once; log:\n%s", logged, f.logs)
			}
		})
	}
}

func TestUnroutedRequests(t *testing.T) {
	cases := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"unknown path", http.MethodGet, "/api/v1/nope", http.StatusNotFound, ""},
		{"trailing slash", http.MethodGet, "/api/v1/hosts/", http.StatusNotFound, ""},
		{"too deep", http.MethodGet, "/api/v1/hosts/1/inventory/x", http.StatusNotFound, ""},
		{"post to list", http.MethodPost, "/api/v1/hosts", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"put host", http.MethodPut, "/api/v1/hosts/7", http.StatusMethodNotAllowed, "GET, DELETE, HEAD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(t, tc.method, tc.path, "Bearer "+token)
			decode[apitypes.Error](t, rec, tc.status)
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
	t.Run("head is served like get", func(t *testing.T) {
		f := newFixture(t)
		rec := f.do(t, http.MethodHead, "/api/v1/hosts", "Bearer "+token)
		if rec.Code != http.StatusOK {
			t.Fatalf("HEAD status %d", rec.Code)
		}
	})
}

func TestNewPanicsWithoutStore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New with a nil Store did not panic")
		}
	}()
	api.New(api.Config{})
}

// TestMountedAtPrefix mounts the handler the way the server does, next to
// routes of other packages, which must stay reachable without a token.
func TestMountedAtPrefix(t *testing.T) {
	f := newFixture(t)
	outer := http.NewServeMux()
	outer.Handle(api.Prefix, f.handler)
	outer.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	f.handler = outer

	decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts"), http.StatusOK)
	wantError(t, f.do(t, http.MethodGet, "/api/v1/hosts", ""), http.StatusUnauthorized, "token")
	if rec := f.do(t, http.MethodGet, "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("/healthz next to the API: status %d", rec.Code)
	}
}
