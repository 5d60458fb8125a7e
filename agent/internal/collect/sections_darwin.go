package collect

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/agent/internal/collect/macinv"
	"github.com/steward-project/steward/shared/inventory"
)

// The darwin collectors. File-based facts are read by package macinv under
// cfg.Root, so that the same code inventories an offline image; what only
// the running system knows comes from sysctl and Apple's tools
// (tools_darwin.go). CPU and memory come from gopsutil (gopsutil_other.go),
// network from network.go.

func collectHost(ctx context.Context, cfg Config) (any, error) {
	if offline(cfg) {
		name, err := macSystem(cfg).Hostname()
		if err != nil {
			return nil, err
		}
		return inventory.Host{Hostname: name}, nil
	}
	name, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("hostname: %w", err)
	}
	h := inventory.Host{Hostname: name}
	// One ioreg run gives serial, hardware UUID, model and maker; the
	// serial is in no file and no sysctl.
	out, err := runTool(ctx, ioregPath, "-rd1", "-c", "IOPlatformExpertDevice")
	if err == nil {
		var p macinv.Platform
		if p, err = macinv.ParsePlatform(out); err == nil {
			h.Serial = firmwareValue(p.Serial)
			h.HardwareUUID = strings.ToLower(firmwareValue(p.UUID))
			h.Model = p.Model
			h.Vendor = p.Manufacturer
		}
	}
	if err != nil {
		cfg.Logger.Debug("platform properties unknown", "err", err)
	}
	if h.Model == "" {
		h.Model, _ = unix.Sysctl("hw.model")
	}
	vmm, _ := unix.SysctlUint32("kern.hv_vmm_present")
	h.Virtualization = macinv.Virtualization(h.Model, vmm == 1)
	if tv, err := unix.SysctlTimeval("kern.boottime"); err == nil && tv.Sec > 0 {
		h.BootTime = time.Unix(tv.Sec, 0).UTC()
	}
	return h, nil
}

func collectOS(ctx context.Context, cfg Config) (any, error) {
	o, err := macSystem(cfg).OS()
	if err != nil {
		return nil, err
	}
	o.Arch = cfg.kernel.arch()
	if offline(cfg) {
		return o, nil
	}
	o.Kernel, _ = unix.Sysctl("kern.osrelease")
	if t, err := unix.SysctlUint32("sysctl.proc_translated"); err == nil && t == 1 {
		// An x86_64 agent under Rosetta would otherwise report the
		// machine as Intel.
		o.Arch = "arm64"
	}
	out, err := runTool(ctx, csrutilPath, "status")
	if err == nil {
		var on bool
		if on, err = macinv.ParseCsrutilStatus(out); err == nil {
			o.SIPEnabled = &on
		}
	}
	if err != nil {
		cfg.Logger.Debug("sip status unknown", "err", err)
	}
	return o, nil
}

func collectDisks(ctx context.Context, cfg Config) (any, error) {
	d, err := gopsutilDisks(ctx, cfg)
	if err != nil {
		return nil, err
	}
	out, err := runTool(ctx, fdesetupPath, "status")
	if err == nil {
		var on bool
		if on, err = macinv.ParseFdesetupStatus(out); err == nil {
			macinv.MarkFileVault(&d, on)
		}
	}
	if err != nil {
		cfg.Logger.Debug("filevault status unknown", "err", err)
	}
	return d, nil
}

func collectSoftware(ctx context.Context, cfg Config) (any, error) {
	sys := macSystem(cfg)
	return sys.Software(ctx, macinv.HomePaths(sys.Homes(ctx)))
}

func collectServices(ctx context.Context, cfg Config) (any, error) {
	sys := macSystem(cfg)
	var live *macinv.LaunchdList
	if !offline(cfg) {
		live = launchdList(ctx, cfg)
	}
	return sys.Services(ctx, sys.Homes(ctx), live)
}

// launchdList asks launchctl which jobs are loaded. Run as root it answers
// for the system domain (daemons), otherwise for the calling user's GUI
// domain (agents). Nil, and so every state "unknown", when it fails.
func launchdList(ctx context.Context, cfg Config) *macinv.LaunchdList {
	out, err := runTool(ctx, launchctlPath, "list")
	var jobs map[string]string
	if err == nil {
		jobs, err = macinv.ParseLaunchctlList(out)
	}
	if err != nil {
		cfg.Logger.Debug("launchd job states unknown", "err", err)
		return nil
	}
	l := &macinv.LaunchdList{Jobs: jobs, System: os.Geteuid() == 0}
	if !l.System {
		l.Home, _ = os.UserHomeDir()
	}
	return l
}

func collectUsers(ctx context.Context, cfg Config) (any, error) {
	return macSystem(cfg).Users(ctx)
}

func collectPorts(ctx context.Context, cfg Config) (any, error) {
	if offline(cfg) {
		return nil, errLiveOnly
	}
	out, err := runTool(ctx, lsofPath, macinv.LsofArgs()...)
	// Exit status 1 means that lsof found nothing for one of its -i
	// selections (no UDP socket at all, say); what it printed stands.
	if err != nil && exitCode(err) != 1 {
		return nil, err
	}
	return macinv.ParsePorts(out)
}
