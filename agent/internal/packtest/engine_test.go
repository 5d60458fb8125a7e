package packtest

import (
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/celexpr"
)

// The server-side counterparts in a pack are evaluated here as the server
// evaluates them, with its CEL engine. The agent binary does not link it;
// a test binary may.
func init() { policy.SetExprEngine(celexpr.Engine{}) }
