package api_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/api/apitest"
	"github.com/steward-project/steward/server/internal/store"
)

func TestCheckHostNow(t *testing.T) {
	st := apitest.NewStore()
	st.AddNamedToken(token, "ops-token")
	st.AddHost(store.Host{ID: 1, Hostname: "web-1"})
	st.AddHost(store.Host{ID: 2, Hostname: "web-2"})
	var asked []int64
	h := api.New(api.Config{
		Store:  st,
		Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)),
		CheckNow: func(id int64) bool {
			asked = append(asked, id)
			return id == 1 // only host 1 is connected
		},
	})
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/api/v1/hosts/1/check", http.StatusOK, `"requested":true`},
		{"/api/v1/hosts/2/check", http.StatusConflict, "not connected"},
		{"/api/v1/hosts/9/check", http.StatusNotFound, "not found"},
		{"/api/v1/hosts/x/check", http.StatusBadRequest, ""},
	} {
		req := httptest.NewRequest(http.MethodPost, tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("POST %s: %d %s, want %d with %q", tc.path, rec.Code, rec.Body, tc.status, tc.body)
		}
	}
	if len(asked) != 2 || asked[0] != 1 || asked[1] != 2 {
		t.Errorf("CheckNow asked for %v, want [1 2] (unknown hosts are not asked)", asked)
	}
}
