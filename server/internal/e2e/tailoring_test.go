package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTailoringByLabel: an admin labels a host and applies a server-side
// tailoring for that label with the real stewardctl; the real agent
// evaluates the policy with the tailored value, so its verdict changes
// and its stored result carries the value. Relabelling the host so the
// tailoring no longer selects it brings the default back.
func TestTailoringByLabel(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, ""
	})
	id := itoa(hosts.Hosts[0].ID)

	// The machine's limit is 50: above the default bound of 10, within
	// the 100 the tailoring allows.
	dir := t.TempDir()
	limits := filepath.Join(dir, "limits.conf")
	os.WriteFile(limits, []byte("limit = 50\n"), 0o644)
	policies := filepath.Join(dir, "policies.yaml")
	os.WriteFile(policies, []byte(`policies:
  - id: limit-bounded
    title: The limit is at most max_limit
    severity: low
    parameters:
      max_limit: "10"
    check:
      setting: {format: keyvalue, path: `+limits+`, key: limit, max: "${max_limit}"}
`), 0o644)
	s.ctl(t, "policies", "apply", "-f", policies)
	waitResult(t, s, "limit-bounded", "fail", map[string]string{"max_limit": "10"})

	s.ctl(t, "hosts", "label", id, "env=prod")
	tailoring := filepath.Join(dir, "prod.yaml")
	os.WriteFile(tailoring, []byte(`tailoring:
  policies:
    limit-bounded:
      parameters: {max_limit: "100"}
`), 0o644)
	s.ctl(t, "tailorings", "apply", "-f", tailoring, "--name", "prod", "--label", "env=prod")
	waitResult(t, s, "limit-bounded", "pass", map[string]string{"max_limit": "100"})

	// The host leaves env=prod: the agent learns its labels at once and
	// evaluates with the default again.
	s.ctl(t, "hosts", "label", id, "env=dev")
	waitResult(t, s, "limit-bounded", "fail", map[string]string{"max_limit": "10"})

	// Back in env=prod, then the tailoring is deleted: the default again.
	s.ctl(t, "hosts", "label", id, "env=prod")
	waitResult(t, s, "limit-bounded", "pass", map[string]string{"max_limit": "100"})
	s.ctl(t, "tailorings", "delete", "prod")
	waitResult(t, s, "limit-bounded", "fail", map[string]string{"max_limit": "10"})
}

// waitResult waits until the one host's stored result for policy has
// status and was evaluated with params.
func waitResult(t *testing.T, s *server, policy, status string, params map[string]string) {
	t.Helper()
	eventually(t, 60*time.Second, policy+" "+status+" with "+fmtParams(params), func() (bool, string) {
		var r policyResults
		raw := s.ctl(t, "-o", "json", "policies", "results", policy)
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatalf("policies results %s: %v\n%s", policy, err, raw)
		}
		return len(r.Results) == 1 && r.Results[0].Status == status && maps.Equal(r.Results[0].Parameters, params), raw
	})
}

func fmtParams(p map[string]string) string {
	raw, _ := json.Marshal(p)
	return string(raw)
}
