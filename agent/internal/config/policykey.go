package config

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/shared/policysign"
)

// PolicyKeys is the policy_public_key setting: one public key, or a list
// of them while a signing key is being rotated. Each entry is the
// one-line base64 form `stewardctl keys generate` prints, or the absolute
// path of a public key file (PEM, or that same line). It is read only from
// the local configuration file: no server and no flag can set it.
type PolicyKeys []string

// UnmarshalYAML takes a single string or a list of strings.
func (k *PolicyKeys) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.TrimSpace(n.Value) == "" {
			*k = nil
			return nil
		}
		*k = PolicyKeys{n.Value}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return fmt.Errorf("policy_public_key: %w", err)
		}
		*k = list
		return nil
	default:
		return fmt.Errorf("line %d: policy_public_key: want a key or a list of keys", n.Line)
	}
}

// Keys parses every entry; none means policy sets are not checked.
func (k PolicyKeys) Keys() ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, v := range k {
		v = strings.TrimSpace(v)
		key, err := policysign.ParsePublicKey([]byte(v))
		if err != nil && filepath.IsAbs(v) {
			var raw []byte
			if raw, err = os.ReadFile(v); err == nil {
				key, err = policysign.ParsePublicKey(raw)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("policy_public_key %q: want the base64 ed25519 public key or the absolute path of its file: %w", v, err)
		}
		out = append(out, key)
	}
	return out, nil
}
