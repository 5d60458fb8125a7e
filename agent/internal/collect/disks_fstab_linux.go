package collect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// fstabDisks is the disks section of an offline root. An image has no
// mounts and no block devices to look at, only the configuration that
// mounts its file systems at boot: the mounts at
// inventory.MountPointsChecked come from its /etc/fstab (parsed as the
// mount leaf parses it, so that a server-side policy on these options and
// the agent's mount leaf read the same entries). Physical disks and volume
// sizes exist only on a running system and are left empty. A missing
// fstab is a system that mounts nothing on its own: no mounts.
func fstabDisks(cfg Config) (inventory.Disks, error) {
	d := inventory.Disks{Physical: []inventory.PhysicalDisk{}, Volumes: []inventory.Volume{}}
	// Links resolve inside the image, never to this machine's fstab.
	data, err := os.ReadFile(inRoot(cfg.Root, "/etc/fstab"))
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("read fstab: %w", err)
	}
	d.Mounts = fstabMounts(string(data))
	return d, nil
}

// fstabMounts lists the fstab entries mounted at boot on the checked
// mount points, sorted by mount point, with credential values hidden.
func fstabMounts(text string) []inventory.Mount {
	var out []inventory.Mount
	for mp, e := range policy.FstabMounts(policy.ParseFstab(text)) {
		if !slices.Contains(inventory.MountPointsChecked, mp) {
			continue
		}
		opts := make([]string, len(e.Options))
		for i, o := range e.Options {
			opts[i] = hideSecretOption(o)
		}
		out = append(out, inventory.Mount{Mount: mp, Device: e.Source, FS: e.FS, Options: opts})
	}
	slices.SortFunc(out, func(a, b inventory.Mount) int { return strings.Compare(a.Mount, b.Mount) })
	return out
}
