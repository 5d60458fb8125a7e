package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// TestCheckWaitAndLastChecked: a result that does not change still shows
// when it was last checked, and `hosts check --wait` returns once the
// agent has reported the evaluation it asked for, with the host's
// results. Real server, agent and CLI.
func TestCheckWaitAndLastChecked(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, ""
	})
	id := hosts.Hosts[0].ID
	file := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(file, []byte(`policies:
  - id: os-release-present
    title: /etc/os-release exists
    severity: low
    check:
      file: {path: /etc/os-release, exists: true}
`), 0o644)
	s.ctl(t, "policies", "apply", "-f", file)

	result := func() apitypes.Result {
		var r struct {
			Results []apitypes.Result `json:"results"`
		}
		raw := s.ctl(t, "-o", "json", "policies", "results", "os-release-present")
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatalf("policies results: %v\n%s", err, raw)
		}
		if len(r.Results) != 1 {
			return apitypes.Result{}
		}
		return r.Results[0]
	}
	eventually(t, 60*time.Second, "the first result", func() (bool, string) {
		return result().Status == "pass", ""
	})
	first := result()

	out := s.ctl(t, "hosts", "check", strconv.FormatInt(id, 10), "--wait", "--timeout", "60s")
	if !strings.Contains(out, "evaluated its policies at") || !strings.Contains(out, "os-release-present") {
		t.Fatalf("hosts check --wait printed:\n%s", out)
	}
	again := result()
	if !again.CheckedAt.Equal(first.CheckedAt) {
		t.Errorf("checked_at moved from %v to %v for an unchanged result; it is when it changed", first.CheckedAt, again.CheckedAt)
	}
	if !again.LastCheckedAt.After(first.LastCheckedAt) {
		t.Errorf("last_checked_at %v did not move past %v after a check", again.LastCheckedAt, first.LastCheckedAt)
	}
	var h apitypes.Host
	s.get(t, "/api/v1/hosts/"+strconv.FormatInt(id, 10), &h)
	if !h.PoliciesCheckedAt.Equal(again.LastCheckedAt) {
		t.Errorf("host policies_checked_at %v, result last_checked_at %v: want equal", h.PoliciesCheckedAt, again.LastCheckedAt)
	}
}
