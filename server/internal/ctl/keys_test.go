package ctl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/policysign"
)

// TestKeysGenerate: a local command (no server, no token) that writes a
// 0600 private key and a public key agents can pin, prints the pinned
// form, and never overwrites a key.
func TestKeysGenerate(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "policy")
	r := run(t, nil, "keys", "generate", "--out", prefix)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	fi, err := os.Stat(prefix + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v, want mode 0600", fi, err)
	}
	privPEM, _ := os.ReadFile(prefix + ".key")
	priv, err := policysign.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := os.ReadFile(prefix + ".pub")
	pub, err := policysign.ParsePublicKey(pubPEM)
	if err != nil || !pub.Equal(priv.Public()) {
		t.Fatalf("public key file: %v", err)
	}
	if !strings.Contains(r.stdout, "policy_public_key: "+policysign.EncodePublicKey(pub)) {
		t.Errorf("output does not show the line to pin:\n%s", r.stdout)
	}
	again := run(t, nil, "keys", "generate", "--out", prefix)
	if again.code == 0 || !strings.Contains(again.stderr, "exists") {
		t.Errorf("second generate: exit %d, stderr %q; want a refusal", again.code, again.stderr)
	}
	if raw, _ := os.ReadFile(prefix + ".key"); string(raw) != string(privPEM) {
		t.Error("the existing private key was overwritten")
	}
}

// TestSignedApplyRefusesBadFlags: an expiry in the past, --expires
// without --sign-key and a key file others can read are refused before
// anything is sent.
func TestSignedApplyRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "policy")
	if r := run(t, nil, "keys", "generate", "--out", prefix); r.code != 0 {
		t.Fatal(r.stderr)
	}
	env := map[string]string{"STEWARD_SERVER": "http://127.0.0.1:1", "STEWARD_TOKEN": "t"}
	file := filepath.Join(dir, "p.yaml")
	os.WriteFile(file, []byte("policies: []\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"policies", "apply", "-f", file, "--sign-key", prefix + ".key", "--expires", "2000-01-01"}, "not in the future"},
		{[]string{"policies", "apply", "-f", file, "--expires", "30d"}, "--expires goes with --sign-key"},
	} {
		r := run(t, env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	os.Chmod(prefix+".key", 0o644)
	r := run(t, env, "policies", "apply", "-f", file, "--sign-key", prefix+".key")
	if r.code == 0 || !strings.Contains(r.stderr, "readable by others") {
		t.Errorf("world-readable key: exit %d, stderr %q", r.code, r.stderr)
	}
}
