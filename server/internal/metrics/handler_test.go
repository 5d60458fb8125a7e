package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerToken(t *testing.T) {
	m := New("test")
	for _, c := range []struct {
		name, token, auth string
		want              int
	}{
		{"no token configured", "", "", http.StatusOK},
		{"right token", "s3cret", "Bearer s3cret", http.StatusOK},
		{"no header", "s3cret", "", http.StatusUnauthorized},
		{"wrong token", "s3cret", "Bearer s3cre", http.StatusUnauthorized},
		{"longer token", "s3cret", "Bearer s3cret2", http.StatusUnauthorized},
		{"basic auth", "s3cret", "Basic czNjcmV0", http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			rec := httptest.NewRecorder()
			m.Handler(c.token).ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d", rec.Code, c.want)
			}
			body := rec.Body.String()
			if c.want == http.StatusOK && !strings.Contains(body, "steward_build_info") {
				t.Errorf("scrape without steward_build_info:\n%.300s", body)
			}
			if c.want == http.StatusUnauthorized {
				if strings.Contains(body, "steward_") || rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("refused scrape leaked metrics or lacks WWW-Authenticate: %q", body)
				}
			}
		})
	}
}
