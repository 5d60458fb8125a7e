package policy

import "github.com/steward-project/steward/shared/policy/celexpr"

// The package's tests evaluate expr leaves with CEL, as the server does;
// TestWithoutEngine* take it away to test the agent's way.
func init() { SetExprEngine(celexpr.Engine{}) }
