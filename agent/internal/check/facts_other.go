//go:build !linux

package check

import (
	"context"

	"github.com/steward-project/steward/shared/policy"
)

// Facts tells the environment facts (policy.FactEnv) from the inventory
// just collected: its virtualization and kernel, and the platform's init
// system (windows, launchd).
func (e *liveEnv) Facts(ctx context.Context) (policy.Facts, error) {
	if err := ctx.Err(); err != nil {
		return policy.Facts{}, err
	}
	return policy.InventoryFacts(ctx, e.Env)
}
