package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type policyResults struct {
	Results []struct {
		HostID   int64  `json:"host_id"`
		Status   string `json:"status"`
		Evidence []struct {
			Passed bool   `json:"passed"`
			Detail string `json:"detail"`
		} `json:"evidence"`
		Parameters map[string]string `json:"parameters"`
	} `json:"results"`
}

// TestAgentEvaluatesAppliedPolicies applies policies that only the agent
// can evaluate (file and package leaves) through the real stewardctl: the
// server pushes the set to the connected agent, which evaluates it and
// reports results with evidence; a change to the set reaches it again.
func TestAgentEvaluatesAppliedPolicies(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, ""
	})

	file := filepath.Join(t.TempDir(), "agent-policies.yaml")
	// limits.conf holds a setting that a policy with a parameter judges.
	limits := filepath.Join(t.TempDir(), "limits.conf")
	os.WriteFile(limits, []byte("limit = 5\n"), 0o644)
	os.WriteFile(file, []byte(`policies:
  - id: os-release-is-debian
    title: The OS is Debian
    severity: low
    platforms: [linux]
    check:
      file: {path: /etc/os-release, matches: '(?m)^ID=debian$'}
  - id: bash-recent
    title: bash 5 or later is installed
    severity: medium
    check:
      package: {name: bash, min_version: "5.0"}
  - id: no-such-marker
    title: A file that does not exist is present
    severity: high
    check:
      file: {path: /etc/steward-e2e-marker-that-does-not-exist, exists: true}
  - id: limit-bounded
    title: The limit is at most max_limit
    severity: low
    parameters:
      max_limit: "10"
    check:
      setting: {format: keyvalue, path: `+limits+`, key: limit, max: "${max_limit}"}
`), 0o644)
	s.ctl(t, "policies", "apply", "-f", file)

	want := map[string]string{"os-release-is-debian": "pass", "bash-recent": "pass", "no-such-marker": "fail",
		"limit-bounded": "pass"}
	for id, status := range want {
		eventually(t, 60*time.Second, id+" reported by the agent", func() (bool, string) {
			var r policyResults
			raw := s.ctl(t, "-o", "json", "policies", "results", id)
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				t.Fatalf("policies results %s: %v\n%s", id, err, raw)
			}
			if len(r.Results) != 1 {
				return false, raw
			}
			res := r.Results[0]
			if res.Status != status {
				return false, raw
			}
			if len(res.Evidence) == 0 || res.Evidence[0].Detail == "" {
				t.Errorf("%s: %s without evidence: %s", id, status, raw)
			}
			// The values the agent evaluated with reach the API.
			wantParams := map[string]map[string]string{"limit-bounded": {"max_limit": "10"}}[id]
			if !maps.Equal(res.Parameters, wantParams) || (wantParams == nil) != (res.Parameters == nil) {
				t.Errorf("%s: parameters %v, want %v: %s", id, res.Parameters, wantParams, raw)
			}
			return true, ""
		})
	}

	// A changed policy reaches the connected agent and its result follows.
	os.WriteFile(file, []byte(`policies:
  - id: no-such-marker
    title: A file that does not exist is absent
    severity: high
    check:
      file: {path: /etc/steward-e2e-marker-that-does-not-exist, exists: false}
`), 0o644)
	s.ctl(t, "policies", "apply", "-f", file)
	eventually(t, 60*time.Second, "the changed policy's new result", func() (bool, string) {
		raw := s.ctl(t, "-o", "json", "policies", "results", "no-such-marker")
		return strings.Contains(raw, `"status": "pass"`), raw
	})

	// check_now: the machine changes under a policy, and an admin's
	// request (not the hourly schedule) brings the new result.
	marker := filepath.Join(t.TempDir(), "marker")
	os.WriteFile(file, []byte(`policies:
  - id: marker-present
    title: The test's marker file exists
    severity: low
    check:
      file: {path: `+marker+`, exists: true}
`), 0o644)
	s.ctl(t, "policies", "apply", "-f", file)
	eventually(t, 60*time.Second, "marker-present failing", func() (bool, string) {
		raw := s.ctl(t, "-o", "json", "policies", "results", "marker-present")
		return strings.Contains(raw, `"status": "fail"`), raw
	})
	os.WriteFile(marker, []byte("x"), 0o644)
	id := itoa(hosts.Hosts[0].ID)
	if out := s.ctl(t, "hosts", "check", id); !strings.Contains(out, "evaluate its policies now") {
		t.Errorf("stewardctl hosts check: %s", out)
	}
	eventually(t, 60*time.Second, "marker-present passing after check_now", func() (bool, string) {
		raw := s.ctl(t, "-o", "json", "policies", "results", "marker-present")
		return strings.Contains(raw, `"status": "pass"`), raw
	})
}
