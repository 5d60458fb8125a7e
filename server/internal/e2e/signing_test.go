package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// hostRefusal is what GET /api/v1/hosts/{id} says of a refusal.
type hostRefusal struct {
	PolicyRefusal *struct {
		Revision int64  `json:"revision"`
		Code     string `json:"code"`
		Reason   string `json:"reason"`
	} `json:"policy_refusal"`
}

// hostPolicyIDs lists the policy set as the host reports it:
// id=status, the status empty where the host sent no result.
func (s *server) hostPolicyIDs(t *testing.T, id int64) []string {
	t.Helper()
	var res struct {
		Policies []struct {
			PolicyID string `json:"policy_id"`
			Status   string `json:"status"`
		} `json:"policies"`
	}
	if code := s.get(t, "/api/v1/hosts/"+itoa(id)+"/policies", &res); code != 200 {
		t.Fatalf("host policies: %d", code)
	}
	var ids []string
	for _, r := range res.Policies {
		ids = append(ids, r.PolicyID+"="+r.Status)
	}
	slices.Sort(ids)
	return ids
}

// put sends a PUT with a JSON body to the admin API and returns the
// status and body.
func (s *server) put(t *testing.T, path string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, s.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// heldSet reads the policy set an agent's state dir holds.
func heldSet(t *testing.T, stateDir string) (uint64, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(stateDir, "policies.json"))
	if err != nil {
		return 0, nil
	}
	var ps struct {
		Revision uint64          `json:"revision"`
		Policies []policy.Policy `json:"policies"`
	}
	if err := json.Unmarshal(raw, &ps); err != nil {
		return 0, nil // caught mid-write never happens (atomic rename), but stay safe
	}
	var ids []string
	for _, p := range ps.Policies {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ps.Revision, ids
}

func policyFile(id string) string {
	return "policies:\n  - id: " + id + "\n    title: " + id + "\n    severity: low\n    check:\n      file: {path: /etc/os-release, exists: true}\n"
}

// TestSignedPolicySets runs a real server, an agent that pins a policy
// key and one that does not, and the real stewardctl. The pinned agent
// evaluates a set signed with `stewardctl policies apply --sign-key`, then
// refuses an unsigned set, an older signed set applied again (rollback)
// and an expired signed set, each refusal visible in GET /hosts/{id} and
// `stewardctl hosts show`, while it keeps the signed set it holds. The
// unpinned agent takes the unsigned set. A newer signed set is accepted
// and clears the refusal.
func TestSignedPolicySets(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	dir := t.TempDir()

	// The key pair, made by the local command (no server, no token).
	gen := exec.Command(bin("stewardctl"), "keys", "generate", "--out", filepath.Join(dir, "policy"))
	gen.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := gen.CombinedOutput(); err != nil || !strings.Contains(string(out), "policy_public_key: ") {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(dir, "policy.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi, err)
	}
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "policy.key"))
	key, err := policysign.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte("policy_public_key: "+filepath.Join(dir, "policy.pub")+"\n"), 0o644)

	pinnedState := filepath.Join(dir, "pinned")
	s.startAgent(t, pinnedState, "--config", cfg)
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the pinned agent's host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, ""
	})
	pinned := hosts.Hosts[0].ID
	s.startAgent(t, filepath.Join(dir, "unpinned"))
	var unpinned int64
	eventually(t, 60*time.Second, "the unpinned agent's host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		for _, h := range hosts.Hosts {
			if h.ID != pinned && h.Online {
				unpinned = h.ID
			}
		}
		return unpinned != 0, ""
	})

	// An older signed set, kept as sent so that it can be replayed.
	oldSet, err := policy.Parse("old.yaml", []byte(policyFile("signed-old")))
	if err != nil {
		t.Fatal(err)
	}
	signedAt := time.Now().Add(-time.Minute)
	oldSig, err := policysign.Sign(key, oldSet, signedAt, signedAt.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal(oldSet)
	oldBody, _ := json.Marshal(map[string]any{"policies": json.RawMessage(list), "signature": oldSig})
	if code, body := s.put(t, "/api/v1/policies", oldBody); code != 200 {
		t.Fatalf("signed old set: %d %s", code, body)
	}
	eventually(t, 60*time.Second, "the pinned agent evaluating the old signed set", func() (bool, string) {
		ids := s.hostPolicyIDs(t, pinned)
		return slices.Equal(ids, []string{"signed-old=pass"}), strings.Join(ids, ",")
	})

	// The good set, signed by the real stewardctl.
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(policyFile("signed-good")), 0o644)
	out := s.ctl(t, "policies", "apply", "-f", good, "--sign-key", filepath.Join(dir, "policy.key"), "--expires", "30d")
	if !strings.Contains(out, "signed with key") || !strings.Contains(out, "signed-old") {
		t.Errorf("signed apply output: %s", out)
	}
	var pl struct {
		Revision  int64 `json:"revision"`
		Signature *struct {
			KeyID string `json:"key_id"`
		} `json:"signature"`
	}
	s.get(t, "/api/v1/policies", &pl)
	goodRev := pl.Revision
	if pl.Signature == nil || pl.Signature.KeyID != policysign.KeyID(key.Public().(ed25519.PublicKey)) {
		t.Errorf("policy list signature %+v", pl.Signature)
	}
	eventually(t, 60*time.Second, "the pinned agent evaluating the good signed set", func() (bool, string) {
		ids := s.hostPolicyIDs(t, pinned)
		return slices.Equal(ids, []string{"signed-good=pass"}), strings.Join(ids, ",")
	})

	// refused waits for the pinned host's refusal of revision rev, and
	// checks the agent still holds the good set.
	refused := func(what string, rev int64, code string) {
		t.Helper()
		eventually(t, 60*time.Second, what+" refused by the pinned agent", func() (bool, string) {
			var h hostRefusal
			s.get(t, "/api/v1/hosts/"+itoa(pinned), &h)
			if h.PolicyRefusal == nil {
				return false, "no refusal"
			}
			r := h.PolicyRefusal
			return r.Revision == rev && r.Code == code, r.Code + ": " + r.Reason
		})
		if held, ids := heldSet(t, pinnedState); held != uint64(goodRev) || !slices.Equal(ids, []string{"signed-good"}) {
			t.Errorf("after %s the pinned agent holds revision %d %v, want the good set %d", what, held, ids, goodRev)
		}
		if shown := s.ctl(t, "hosts", "show", itoa(pinned)); !strings.Contains(shown, "revision "+itoa(rev)+" refused") || !strings.Contains(shown, code) {
			t.Errorf("hosts show does not show the refusal of %d (%s):\n%s", rev, code, shown)
		}
	}

	// 1. Unsigned: an apply without a signature.
	unsigned := filepath.Join(dir, "unsigned.yaml")
	os.WriteFile(unsigned, []byte(policyFile("unsigned-added")), 0o644)
	s.ctl(t, "policies", "apply", "-f", unsigned)
	s.get(t, "/api/v1/policies", &pl)
	refused("the unsigned set", pl.Revision, policysign.CodeUnsigned)
	eventually(t, 60*time.Second, "the unpinned agent evaluating the unsigned set", func() (bool, string) {
		ids := s.hostPolicyIDs(t, unpinned)
		return slices.Contains(ids, "unsigned-added=pass"), strings.Join(ids, ",")
	})
	if ids := s.hostPolicyIDs(t, pinned); slices.Contains(ids, "unsigned-added=pass") || !slices.Contains(ids, "signed-good=pass") {
		t.Errorf("pinned host results after the unsigned set: %v", ids)
	}

	// 2. Rollback: the older signed set, replayed byte for byte.
	code, body := s.put(t, "/api/v1/policies", oldBody)
	if code != 200 {
		t.Fatalf("replay: %d %s", code, body)
	}
	var res struct {
		Revision int64 `json:"revision"`
	}
	json.Unmarshal(body, &res)
	refused("the replayed older set", res.Revision, policysign.CodeRollback)

	// 3. Expired: newer than the good set, but past its expiry.
	expSet, _ := policy.Parse("expired.yaml", []byte(policyFile("signed-expired")))
	digest, _ := policysign.Digest(expSet)
	now := time.Now()
	expSig, err := policysign.SignStatement(key, policysign.Statement{Format: policysign.Format,
		KeyID: policysign.KeyID(key.Public().(ed25519.PublicKey)), Serial: uint64(now.UnixNano()), SignedAt: now.Add(-2 * time.Hour),
		ExpiresAt: now.Add(-time.Hour), Policies: len(expSet), Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	list, _ = json.Marshal(expSet)
	expBody, _ := json.Marshal(map[string]any{"policies": json.RawMessage(list), "signature": expSig})
	code, body = s.put(t, "/api/v1/policies", expBody)
	if code != 200 {
		t.Fatalf("expired set: %d %s", code, body)
	}
	json.Unmarshal(body, &res)
	refused("the expired set", res.Revision, policysign.CodeExpired)

	// A newer good set is accepted and the refusal goes away.
	newer := filepath.Join(dir, "newer.yaml")
	os.WriteFile(newer, []byte(policyFile("signed-newer")), 0o644)
	s.ctl(t, "policies", "apply", "-f", newer, "--sign-key", filepath.Join(dir, "policy.key"))
	eventually(t, 60*time.Second, "the newer signed set evaluated and the refusal cleared", func() (bool, string) {
		var h hostRefusal
		s.get(t, "/api/v1/hosts/"+itoa(pinned), &h)
		ids := s.hostPolicyIDs(t, pinned)
		return h.PolicyRefusal == nil && slices.Equal(ids, []string{"signed-newer=pass"}), strings.Join(ids, ",")
	})
}
