package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestApplyDirectoryIsOneRevision: `stewardctl policies apply -f DIR`
// with six files is one apply: one policy set revision, one audit entry,
// and a connected agent receives the set once.
func TestApplyDirectoryIsOneRevision(t *testing.T) {
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	agent := s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the agent's host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, agent.Output()
	})

	dir := t.TempDir()
	for i := range 6 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("p%d.yaml", i)), fmt.Sprintf(`policies:
  - id: one-apply-%d
    title: Policy %d of six
    severity: low
    check:
      file: {path: /etc/os-release, exists: true}
`, i, i))
	}
	out := s.ctl(t, "policies", "apply", "-f", dir)
	if !strings.HasSuffix(out, "Policy set revision 1.\n") || strings.Count(out, " added\n") != 6 {
		t.Fatalf("policies apply of six files printed:\n%s", out)
	}
	for i := range 6 {
		if want := fmt.Sprintf("one-apply-%d  %s  added", i, filepath.Join(dir, fmt.Sprintf("p%d.yaml", i))); !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}

	var list struct {
		Revision int64             `json:"revision"`
		Policies []json.RawMessage `json:"policies"`
	}
	s.get(t, "/api/v1/policies", &list)
	if list.Revision != 1 || len(list.Policies) != 6 {
		t.Errorf("GET /api/v1/policies: revision %d with %d policies, want revision 1 with 6", list.Revision, len(list.Policies))
	}
	var audit struct {
		Entries []json.RawMessage `json:"entries"`
	}
	s.get(t, "/api/v1/audit?action=policy_applied", &audit)
	if len(audit.Entries) != 1 {
		t.Errorf("audit log has %d policy_applied entries, want 1:\n%s", len(audit.Entries), audit.Entries)
	}

	// The agent takes revision 1 and is sent no other set: pushes reach
	// it in order, so anything after revision 1 would show by now.
	received := regexp.MustCompile(`policy set received.* revision=(\d+)`)
	eventually(t, 60*time.Second, "the agent receiving revision 1", func() (bool, string) {
		for _, m := range received.FindAllStringSubmatch(agent.Output(), -1) {
			if m[1] == "1" {
				return true, ""
			}
		}
		return false, agent.Output()
	})
	var revs []string
	for _, m := range received.FindAllStringSubmatch(agent.Output(), -1) {
		if m[1] != "0" {
			revs = append(revs, m[1])
		}
	}
	if len(revs) != 1 {
		t.Errorf("the agent received the set %d times (revisions %v), want once", len(revs), revs)
	}
	eventually(t, 60*time.Second, "the server logging its push", func() (bool, string) {
		return strings.Contains(s.Output(), "policy set sent to agents"), s.Output()
	})
	if n := strings.Count(s.Output(), "policy set sent to agents"); n != 1 {
		t.Errorf("the server pushed the set %d times, want once", n)
	}
}
