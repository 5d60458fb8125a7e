//go:build !linux

package collect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/disk"

	"github.com/steward-project/steward/shared/inventory"
)

// gopsutilDisks lists mounted volumes. gopsutil has no list of physical
// disks outside Linux, so Physical stays empty, and encryption (BitLocker,
// FileVault) is not known yet. As on Linux, free_bytes makes this section
// change between collections by design.
func gopsutilDisks(ctx context.Context, cfg Config) (inventory.Disks, error) {
	parts, err := disk.PartitionsWithContext(gopsutilContext(ctx, cfg), false)
	if err != nil {
		return inventory.Disks{}, fmt.Errorf("partitions: %w", err)
	}
	out := inventory.Disks{Physical: []inventory.PhysicalDisk{}, Volumes: []inventory.Volume{}}
	seen := make(map[string]bool)
	for _, p := range parts {
		if !realFS(mount{fsType: p.Fstype, mountPoint: p.Mountpoint}) || seen[p.Mountpoint] {
			continue
		}
		seen[p.Mountpoint] = true
		usage, err := cfg.kernel.statfs(p.Mountpoint)
		if errors.Is(err, errLiveOnly) {
			return inventory.Disks{}, err
		}
		if err != nil {
			cfg.Logger.Debug("skip volume", "mount", p.Mountpoint, "err", err)
			continue
		}
		out.Volumes = append(out.Volumes, inventory.Volume{
			Device:    p.Device,
			Mount:     p.Mountpoint,
			FS:        p.Fstype,
			SizeBytes: usage.Total,
			FreeBytes: coarseFree(usage.Free, usage.Total),
			ReadOnly:  slices.Contains(p.Opts, "ro"),
		})
	}
	slices.SortFunc(out.Volumes, func(a, b inventory.Volume) int {
		return strings.Compare(a.Mount, b.Mount)
	})
	return out, nil
}
