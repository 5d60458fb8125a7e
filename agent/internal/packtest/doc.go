// Package packtest runs policy packs against fixture systems: for every
// policy a pack holds, a small root file system on which it must pass and
// one on which it must fail, built from a compact YAML description and
// checked with the agent's own Env (check.NewEnv) and inventory
// collectors (collect.Collect) under --root. See fixtures_test.go for the
// fixture format and docs/policies.md for how packs are tested.
package packtest
