package config

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/shared/policysign"
)

// TestPolicyKeys: policy_public_key takes the base64 line or the absolute
// path of a public key file, alone or in a list, and refuses anything
// else, so that a typo cannot silently leave an agent unpinned.
func TestPolicyKeys(t *testing.T) {
	pub, _, _ := policysign.GenerateKey()
	other, _, _ := policysign.GenerateKey()
	pemPub, _ := policysign.MarshalPublicKey(other)
	path := filepath.Join(t.TempDir(), "policy.pub")
	os.WriteFile(path, pemPub, 0o644)
	line := policysign.EncodePublicKey(pub)

	for _, tc := range []struct {
		yaml string
		want int
		ok   bool
	}{
		{"policy_public_key: " + line, 1, true},
		{"policy_public_key: " + path, 1, true},
		{"policy_public_key: [" + line + ", " + path + "]", 2, true},
		{"policy_public_key: ''", 0, true},
		{"other: 1", 0, true},
		{"policy_public_key: not-a-key", 0, false},
		{"policy_public_key: relative/policy.pub", 0, false},
		{"policy_public_key: /no/such/policy.pub", 0, false},
	} {
		var c struct {
			Key PolicyKeys `yaml:"policy_public_key"`
		}
		if err := yaml.Unmarshal([]byte(tc.yaml), &c); err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		keys, err := c.Key.Keys()
		if (err == nil) != tc.ok || len(keys) != tc.want {
			t.Errorf("%s: %d keys, %v; want %d, ok=%v", tc.yaml, len(keys), err, tc.want, tc.ok)
		}
	}
	var c struct {
		Key PolicyKeys `yaml:"policy_public_key"`
	}
	if err := yaml.Unmarshal([]byte("policy_public_key: {a: b}"), &c); err == nil {
		t.Error("a mapping was accepted")
	}
}
