package api_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/api/apitest"
	"github.com/steward-project/steward/server/internal/apitypes"
)

func TestVersion(t *testing.T) {
	f := newFixture(t)
	if got := decode[apitypes.Version](t, f.get(t, "/api/v1/version"), http.StatusOK); got.Version != "dev" || got.GoVersion != runtime.Version() {
		t.Errorf("unversioned server: %+v", got)
	}
	if rec := f.do(t, http.MethodGet, "/api/v1/version", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}

	st := apitest.NewStore()
	st.AddToken(token)
	h := api.New(api.Config{Store: st, Version: "v1.4.0-2-gabcdef0"})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/version", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := decode[apitypes.Version](t, rec, http.StatusOK); got.Version != "v1.4.0-2-gabcdef0" {
		t.Errorf("version %q", got.Version)
	}
}
