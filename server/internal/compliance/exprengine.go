package compliance

import (
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/celexpr"
)

// The evaluator runs expr leaves with CEL against stored inventory and
// answers the agents' expr leaves. Agents do not link the engine (it
// would double their memory); every server-side package that validates or
// evaluates expressions sets it, so none depends on another having done so.
func init() { policy.SetExprEngine(celexpr.Engine{}) }
