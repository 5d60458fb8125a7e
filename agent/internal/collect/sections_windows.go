package collect

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	winreg "golang.org/x/sys/windows/registry"

	"github.com/steward-project/steward/agent/internal/collect/wininv"
)

// The windows collectors. CPU and memory come from gopsutil
// (gopsutil_other.go). The rest read the registry, the service control
// manager, iphlpapi and netapi32 natively and hand the raw data to package
// wininv, where every rule lives and is tested on fixtures in the formats
// admins export from real machines. The files here only fetch, one
// *_windows.go per concern.

// liveWindows refuses an offline root: these collectors read the running
// system's registry and APIs, and inventorying a mounted Windows image
// would need its hives loaded, which is not supported.
func liveWindows(cfg Config) error {
	switch filepath.Clean(cfg.Root) {
	case `\`, "/":
		return nil
	}
	return fmt.Errorf("windows registry and system APIs: %w", errLiveOnly)
}

func collectHost(ctx context.Context, cfg Config) (any, error) {
	if err := liveWindows(cfg); err != nil {
		return nil, err
	}
	h, err := gopsutilHost(ctx, cfg) // hostname and boot time
	if err != nil {
		return nil, err
	}
	if crypto, err := readRegistry(winreg.LOCAL_MACHINE, wininv.MachineGUIDPath, regSpec{values: []string{"MachineGuid"}}); err == nil {
		h.MachineID = wininv.MachineID(crypto)
	}
	var s wininv.SMBIOS
	raw, err := rawSMBIOS()
	if err == nil {
		s, err = wininv.ParseRawSMBIOS(raw)
	}
	if err != nil {
		cfg.Logger.Debug("smbios tables unreadable, using the registry copy", "err", err)
	}
	bios, err := readRegistry(winreg.LOCAL_MACHINE, wininv.BIOSPath, regSpec{})
	if err != nil {
		cfg.Logger.Debug("bios registry key unreadable", "err", err)
	}
	id := wininv.Identity(s, bios, firmwareValue)
	h.HardwareUUID, h.Serial, h.Vendor, h.Model = id.HardwareUUID, id.Serial, id.Vendor, id.Model
	h.BIOSVendor, h.BIOSVersion, h.BIOSDate = id.BIOSVendor, id.BIOSVersion, id.BIOSDate
	h.Virtualization = id.Virtualization
	h.BootTime = stableBootTime(h.BootTime)
	return h, nil
}

// bootTime keeps the first boot time this process computed. Windows has
// no boot timestamp, only an uptime counter: gopsutil subtracts it from
// the clock, and the result can move by a second between calls (or with
// clock adjustments), which would make the host section change.
var bootTime struct {
	sync.Mutex
	t time.Time
}

func stableBootTime(t time.Time) time.Time {
	bootTime.Lock()
	defer bootTime.Unlock()
	if bootTime.t.IsZero() {
		bootTime.t = t
	}
	return bootTime.t
}

func collectOS(_ context.Context, cfg Config) (any, error) {
	if err := liveWindows(cfg); err != nil {
		return nil, err
	}
	cv, err := readRegistry(winreg.LOCAL_MACHINE, wininv.CurrentVersionPath, regSpec{})
	if err != nil {
		return nil, err
	}
	o := wininv.OS(cv, cfg.kernel.arch())
	cbs, err := readRegistry(winreg.LOCAL_MACHINE, wininv.CBSPackagesPath,
		regSpec{values: wininv.CBSValues, depth: 1, keep: wininv.HotfixCandidate})
	if err != nil {
		cfg.Logger.Debug("servicing packages unreadable, hotfixes incomplete", "err", err)
	}
	legacy, err := readRegistry(winreg.LOCAL_MACHINE, wininv.LegacyHotfixPath, regSpec{values: []string{}, depth: 1})
	if err != nil && !notFound(err) {
		cfg.Logger.Debug("legacy hotfix key unreadable", "err", err)
	}
	o.Hotfixes = wininv.Hotfixes(cbs, legacy)
	return o, nil
}

// collectDisks lists volumes through gopsutil and adds BitLocker's view.
// When that is unavailable (manage-bde needs an administrator) Encrypted
// stays unknown rather than false.
func collectDisks(ctx context.Context, cfg Config) (any, error) {
	d, err := gopsutilDisks(ctx, cfg)
	if err != nil {
		return nil, err
	}
	status, err := bitLockerStatus(ctx)
	if err != nil {
		cfg.Logger.Debug("bitlocker status unknown", "err", err)
		return d, nil
	}
	wininv.ApplyBitLocker(d.Volumes, status)
	return d, nil
}
