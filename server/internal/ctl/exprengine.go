package ctl

import (
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/celexpr"
)

// stewardctl validates policy files with CEL before it signs or sends them. Agents do not link the engine (it
// would double their memory); every server-side package that validates or
// evaluates expressions sets it, so none depends on another having done so.
func init() { policy.SetExprEngine(celexpr.Engine{}) }
