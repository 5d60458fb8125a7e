package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSignedTailoring: an agent that pins a policy key refuses a set to
// which the server added a tailoring after it was signed, and keeps
// evaluating with the signed values; once the admin signs the set again
// (stewardctl signs the server's tailorings with the policies), the
// agent takes the tailored value.
func TestSignedTailoring(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	dir := t.TempDir()
	gen := exec.Command(bin("stewardctl"), "keys", "generate", "--out", filepath.Join(dir, "policy"))
	gen.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "policy.key")
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte("policy_public_key: "+filepath.Join(dir, "policy.pub")+"\n"), 0o644)
	s.startAgent(t, filepath.Join(dir, "state"), "--config", cfg)
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the pinned agent's host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, ""
	})
	id := hosts.Hosts[0].ID

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
	s.ctl(t, "policies", "apply", "-f", policies, "--sign-key", keyFile, "--expires", "30d")
	waitResult(t, s, "limit-bounded", "fail", map[string]string{"max_limit": "10"})

	s.ctl(t, "hosts", "label", itoa(id), "env=prod")
	tailoring := filepath.Join(dir, "prod.yaml")
	os.WriteFile(tailoring, []byte("tailoring:\n  parameters: {max_limit: \"100\"}\n"), 0o644)
	s.ctl(t, "tailorings", "apply", "-f", tailoring, "--name", "prod", "--label", "env=prod")
	eventually(t, 60*time.Second, "the set with an unsigned tailoring refused", func() (bool, string) {
		var h hostRefusal
		s.get(t, "/api/v1/hosts/"+itoa(id), &h)
		if h.PolicyRefusal == nil {
			return false, "no refusal"
		}
		return h.PolicyRefusal.Code == "unsigned", h.PolicyRefusal.Code + ": " + h.PolicyRefusal.Reason
	})
	waitResult(t, s, "limit-bounded", "fail", map[string]string{"max_limit": "10"})

	// Signing again covers the tailoring: the agent takes it.
	s.ctl(t, "policies", "apply", "-f", policies, "--sign-key", keyFile, "--expires", "30d")
	waitResult(t, s, "limit-bounded", "pass", map[string]string{"max_limit": "100"})
	eventually(t, 60*time.Second, "the refusal cleared", func() (bool, string) {
		var h hostRefusal
		s.get(t, "/api/v1/hosts/"+itoa(id), &h)
		return h.PolicyRefusal == nil, "still refused"
	})
}
