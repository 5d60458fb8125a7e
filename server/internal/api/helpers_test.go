package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/api/apitest"
	"github.com/steward-project/steward/server/internal/apitypes"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const token = "s3cret-admin-token"

// fixture is an API handler over a fake store, with its log captured.
type fixture struct {
	store   *apitest.Store
	handler http.Handler
	logs    *bytes.Buffer

	mu       sync.Mutex
	changes  []int64 // revisions PoliciesChanged reported
	exempted int     // ExemptionsChanged calls
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := apitest.NewStore()
	st.AddNamedToken(token, "ops-token")
	logs := &bytes.Buffer{}
	f := &fixture{store: st, logs: logs}
	f.handler = api.New(api.Config{
		Store:  st,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Now:    func() time.Time { return now },
		PoliciesChanged: func(rev int64) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.changes = append(f.changes, rev)
		},
		ExemptionsChanged: func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.exempted++
		},
	})
	return f
}

// policiesChanged returns the revisions PoliciesChanged was called with.
func (f *fixture) policiesChanged() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.changes...)
}

// get sends an authenticated GET.
func (f *fixture) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do(t, http.MethodGet, path, "Bearer "+token)
}

func (f *fixture) do(t *testing.T, method, path, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	return f.send(t, method, path, authorization, "", "")
}

// send sends a request with a body of the given Content-Type ("" sends
// none).
func (f *fixture) send(t *testing.T, method, path, authorization, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// decode checks the response is JSON with the wanted status and decodes it.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var v T
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return v
}

// wantError checks an error response: status, JSON body with a message
// containing substr.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, substr string) {
	t.Helper()
	e := decode[apitypes.Error](t, rec, status)
	if e.Error == "" || !strings.Contains(e.Error, substr) {
		t.Fatalf("error %q, want it to contain %q", e.Error, substr)
	}
}
