// Package packtest runs policy packs against fixture systems: for every
// policy a pack holds, a small root file system on which it must pass and
// one on which it must fail, built from a compact YAML description and
// checked with the agent's own Env (check.NewEnv) and inventory
// collectors (collect.Collect) under --root. A server-side counterpart
// (an expression-only policy whose id is a machine policy's followed by
// "-inventory") runs on that policy's fixtures against the collected
// inventory alone, as the server evaluates it. See fixtures_test.go for
// the fixture format and docs/policies.md for how packs are tested.
package packtest
