package api

import (
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/celexpr"
)

// Policies are validated with CEL when applied: agents receive only sets
// whose expressions the server compiled. Agents do not link the engine (it
// would double their memory); every server-side package that validates or
// evaluates expressions sets it, so none depends on another having done so.
func init() { policy.SetExprEngine(celexpr.Engine{}) }
