package cistest

import (
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/celexpr"
)

// The pack's server-side counterparts are evaluated here as the server
// evaluates them, with its CEL engine. The agent binary does not link it;
// a test binary may.
func init() { policy.SetExprEngine(celexpr.Engine{}) }
