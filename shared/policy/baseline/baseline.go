// Package baseline ships Steward's baseline policy pack: CIS-style checks
// for Linux, Windows and macOS, embedded so that the server and agent can
// offer it without the repository at hand.
package baseline

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/steward-project/steward/shared/policy"
)

// files holds the pack.
//
//go:embed *.yaml
var files embed.FS

// FS returns the pack's policy files (*.yaml at its root).
func FS() fs.FS { return files }

// Policies parses and validates the embedded pack with the same rules as
// policy.Load, including unique ids across files. An error here is a bug
// in the pack, caught by this package's tests.
func Policies() ([]policy.Policy, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	var all []policy.Policy
	seen := map[string]string{}
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		ps, err := policy.Parse(name, data)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		for _, p := range ps {
			if first, dup := seen[p.ID]; dup {
				return nil, fmt.Errorf("baseline: %s: policy %s: duplicate id (first in %s)", name, p.ID, first)
			}
			seen[p.ID] = name
		}
		all = append(all, ps...)
	}
	return all, nil
}
