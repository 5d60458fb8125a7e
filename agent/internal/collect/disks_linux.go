package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// The "disks" section is the one section that changes without any change
// to the machine: free space moves as files are written. It is reported in
// steps of 1 % of the file system (coarseFree), so the section is resent
// only when free space has really moved.
func collectDisks(ctx context.Context, cfg Config) (any, error) {
	if offlineRoot(cfg) {
		return fstabDisks(cfg)
	}
	phys, err := physicalDisks(cfg)
	if err != nil {
		return nil, err
	}
	vols, mounts, err := volumes(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return inventory.Disks{Physical: phys, Volumes: vols, Mounts: mounts}, nil
}

// virtualBlockPrefixes name kernel block devices that are not hardware:
// loop files, RAM disks, device-mapper and md stacks, network block
// devices, ZFS volumes. Sysfs links them under devices/virtual as well;
// the names catch sysfs copies without links.
var virtualBlockPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "nbd", "zd"}

func physicalDisks(cfg Config) ([]inventory.PhysicalDisk, error) {
	dir := cfg.sys("block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, liveOnly(cfg, "block devices", fmt.Errorf("list block devices: %w", err))
	}
	out := make([]inventory.PhysicalDisk, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if virtualBlock(dir, name) {
			continue
		}
		base := dir + "/" + name + "/"
		sectors, _ := strconv.ParseUint(readTrim(base+"size"), 10, 64)
		d := inventory.PhysicalDisk{
			// sysfs spells "/" in device names as "!" (cciss!c0d0).
			Device:     "/dev/" + strings.ReplaceAll(name, "!", "/"),
			Model:      readTrim(base + "device/model"),
			Serial:     readTrim(base + "serial"), // virtio
			SizeBytes:  sectors * 512,             // sysfs counts 512-byte sectors whatever the disk's own
			Rotational: readTrim(base+"queue/rotational") == "1",
			Removable:  readTrim(base+"removable") == "1",
		}
		if d.Serial == "" {
			d.Serial = readTrim(base + "device/serial") // NVMe, some USB
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b inventory.PhysicalDisk) int {
		return strings.Compare(a.Device, b.Device)
	})
	return out, nil
}

func virtualBlock(dir, name string) bool {
	if target, err := os.Readlink(dir + "/" + name); err == nil && strings.Contains(target, "/devices/virtual/") {
		return true
	}
	for _, p := range virtualBlockPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// volumes returns the visible mounts of real file systems, and the
// visible mounts at inventory.MountPointsChecked. A mount hidden by an
// over-mount is left out of both: nothing on it can be reached, and its
// options are not the ones in effect at its mount point.
func volumes(ctx context.Context, cfg Config) ([]inventory.Volume, []inventory.Mount, error) {
	data, err := os.ReadFile(cfg.proc("self/mountinfo"))
	if err != nil {
		return nil, nil, fmt.Errorf("read mountinfo: %w", err)
	}
	mounts := visible(parseMountinfo(data))
	var checked []inventory.Mount
	for _, m := range mounts {
		if slices.Contains(inventory.MountPointsChecked, m.mountPoint) {
			checked = append(checked, inventory.Mount{Mount: m.mountPoint, Device: m.source, FS: m.fsType, Options: m.options()})
		}
	}
	slices.SortStableFunc(checked, func(a, b inventory.Mount) int { return strings.Compare(a.Mount, b.Mount) })
	out := make([]inventory.Volume, 0, len(mounts))
	seen := make(map[[2]string]bool)
	dm := dmNames(cfg)
	for _, m := range mounts {
		if !realFS(m) || !volumeRoot(m) {
			continue
		}
		// One file system mounted twice (bind mounts of "/") is one volume.
		key := [2]string{m.devID, m.root}
		if seen[key] {
			continue
		}
		seen[key] = true
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		usage, err := cfg.kernel.statfs(m.mountPoint)
		if errors.Is(err, errLiveOnly) {
			return nil, nil, err
		}
		if err != nil {
			// A FUSE mount of another user or a vanished mount: leave it
			// out rather than lose every other volume.
			cfg.Logger.Debug("skip volume", "mount", m.mountPoint, "err", err)
			continue
		}
		out = append(out, inventory.Volume{
			Device:    m.source,
			Mount:     m.mountPoint,
			FS:        m.fsType,
			SizeBytes: usage.Total,
			FreeBytes: coarseFree(usage.Free, usage.Total),
			Encrypted: encrypted(cfg, m, dm),
			ReadOnly:  m.readOnly,
			Options:   m.options(),
		})
	}
	slices.SortFunc(out, func(a, b inventory.Volume) int {
		return strings.Compare(a.Mount, b.Mount)
	})
	return out, checked, nil
}

// volumeRoot reports whether m mounts a whole file system rather than a
// bind mount of one of its directories or files (a container's
// /etc/hosts, a Kubernetes volume), which would repeat the same file system
// under another name. btrfs subvolumes also mount a subtree (/@home) and
// are volumes in their own right.
func volumeRoot(m mount) bool {
	return m.root == "/" || m.fsType == "btrfs"
}

// encrypted reports whether the volume's block device is a dm-crypt
// mapping or stacked on one (LVM on LUKS), nil when sysfs has no block
// device for it (network and virtual file systems). false means no
// dm-crypt layer; self-encrypting drives and fscrypt are not detected.
func encrypted(cfg Config, m mount, dm map[string]string) *bool {
	yes, no := true, false
	if m.fsType == "ecryptfs" {
		return &yes
	}
	dir := ""
	if !strings.HasPrefix(m.devID, "0:") {
		dir = cfg.sys("dev/block/" + m.devID)
	} else if name, ok := strings.CutPrefix(m.source, "/dev/mapper/"); ok && dm[name] != "" {
		// btrfs reports an anonymous device number; go by the source.
		dir = cfg.sys("class/block/" + dm[name])
	} else if name, ok := strings.CutPrefix(m.source, "/dev/"); ok {
		dir = cfg.sys("class/block/" + strings.ReplaceAll(name, "/", "!"))
	}
	if dir == "" || !exists(dir) {
		return nil
	}
	if cryptStack(cfg, dir, 0) {
		return &yes
	}
	return &no
}

func cryptStack(cfg Config, dir string, depth int) bool {
	if depth > 8 {
		return false // a stack this deep is a cycle in a corrupt tree
	}
	if strings.HasPrefix(readTrim(dir+"/dm/uuid"), "CRYPT-") {
		return true
	}
	slaves, _ := os.ReadDir(dir + "/slaves")
	for _, s := range slaves {
		if cryptStack(cfg, cfg.sys("class/block/"+s.Name()), depth+1) {
			return true
		}
	}
	return false
}

// dmNames maps device-mapper names (/dev/mapper/<name>) to kernel names
// (dm-0).
func dmNames(cfg Config) map[string]string {
	out := make(map[string]string)
	entries, _ := os.ReadDir(cfg.sys("block"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "dm-") {
			if n := readTrim(cfg.sys("block/" + e.Name() + "/dm/name")); n != "" {
				out[n] = e.Name()
			}
		}
	}
	return out
}
