package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/config"
)

// startForPprof runs a server on SQLite with debug.pprof as given and
// returns its base URL and the admin token it created at first start.
func startForPprof(t *testing.T, on bool) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.DB = "sqlite://" + filepath.Join(dir, "steward.db")
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Debug.Pprof = on
	serve(t, cfg)
	base := "http://" + cfg.Listen
	scrape(t, http.DefaultClient, base+"/metrics", "steward_store_up") // up and serving
	admin, err := os.ReadFile(filepath.Join(cfg.DataDir, auth.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return base, strings.TrimSpace(string(admin))
}

func getWith(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestPprofOffByDefault(t *testing.T) {
	if config.Default().Debug.Pprof {
		t.Fatal("debug.pprof is on by default")
	}
	base, admin := startForPprof(t, false)
	if code, body := getWith(t, base+"/debug/pprof/heap?debug=1", admin); code != http.StatusNotFound {
		t.Errorf("profiles off: status %d, want 404: %.200s", code, body)
	}
}

func TestPprofAdminOnly(t *testing.T) {
	base, admin := startForPprof(t, true)

	// A viewer token, made through the API.
	body, _ := json.Marshal(map[string]string{"name": "reader", "role": "viewer"})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/tokens", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created.Token == "" {
		t.Fatalf("create viewer token: status %d", resp.StatusCode)
	}

	url := base + "/debug/pprof/heap?debug=1"
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "not-a-token", http.StatusUnauthorized},
		{"viewer token", created.Token, http.StatusForbidden},
	} {
		if code, body := getWith(t, url, tc.token); code != tc.want {
			t.Errorf("%s: status %d, want %d: %.200s", tc.name, code, tc.want, body)
		}
	}
	code, heap := getWith(t, url, admin)
	if code != http.StatusOK || !strings.Contains(heap, "heap profile:") {
		t.Errorf("admin: status %d, want a heap profile: %.200s", code, heap)
	}
	code, index := getWith(t, base+"/debug/pprof/", admin)
	if code != http.StatusOK || !strings.Contains(index, "goroutine") {
		t.Errorf("admin index: status %d: %.200s", code, index)
	}
}
