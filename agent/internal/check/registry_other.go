//go:build !windows

package check

import (
	"context"
	"fmt"
	"runtime"

	"github.com/steward-project/steward/shared/policy"
)

// Registry exists only on Windows.
func (e *liveEnv) Registry(context.Context, string, string) (string, error) {
	return "", fmt.Errorf("%w: the registry is not available on %s", policy.ErrUnavailable, runtime.GOOS)
}
