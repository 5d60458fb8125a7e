//go:build !linux

package collect

import (
	"context"

	"github.com/shirou/gopsutil/v4/disk"
)

func (k liveKernel) statfs(path string) (fsUsage, error) {
	if k.offline {
		return fsUsage{}, errLiveOnly
	}
	u, err := disk.UsageWithContext(context.Background(), path)
	if err != nil {
		return fsUsage{}, err
	}
	return fsUsage{Total: u.Total, Free: u.Free}, nil
}

// temporaryIPv6 returns nil: outside Linux the address flags are not read
// yet, so privacy addresses are listed like any other.
func temporaryIPv6(string) map[string]bool { return nil }
