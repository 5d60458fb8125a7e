package check

import (
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/celexpr"
)

// Expr leaves are evaluated here with the server's engine, standing in for
// the answers the server sends a connected agent; the agent binary itself
// links no engine.
func init() { policy.SetExprEngine(celexpr.Engine{}) }
