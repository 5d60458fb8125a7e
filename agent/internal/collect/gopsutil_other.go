//go:build !linux

package collect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/steward-project/steward/shared/inventory"
)

// Outside Linux the collectors ask gopsutil, which reads the registry, WMI
// and sysctl. Hardware vendor, model and serial need WMI classes or IOKit
// properties gopsutil does not expose; they stay empty for now.

// gopsutilContext hands Config's roots to gopsutil through its context
// rather than its HOST_* environment variables, which are process-wide.
func gopsutilContext(ctx context.Context, cfg Config) context.Context {
	return context.WithValue(ctx, common.EnvKey, common.EnvMap{
		common.HostProcEnvKey: cfg.ProcDir,
		common.HostSysEnvKey:  cfg.SysDir,
		common.HostEtcEnvKey:  cfg.path("/etc"),
		common.HostVarEnvKey:  cfg.path("/var"),
		common.HostRunEnvKey:  cfg.path("/run"),
		common.HostDevEnvKey:  cfg.path("/dev"),
		common.HostRootEnvKey: cfg.Root,
	})
}

// gopsutilHost is the host section as gopsutil knows it; the Windows and
// macOS collectors start from it and add what they read themselves.
func gopsutilHost(ctx context.Context, cfg Config) (inventory.Host, error) {
	ctx = gopsutilContext(ctx, cfg)
	name, err := os.Hostname()
	if err != nil {
		return inventory.Host{}, fmt.Errorf("hostname: %w", err)
	}
	h := inventory.Host{Hostname: name}
	if id, err := host.HostIDWithContext(ctx); err == nil {
		// Windows answers with MachineGuid, an OS install id; macOS and
		// the BSDs with the firmware's hardware UUID.
		if runtime.GOOS == "windows" {
			h.MachineID = strings.ToLower(id)
		} else {
			h.HardwareUUID = strings.ToLower(firmwareValue(id))
		}
	}
	if secs, err := host.BootTimeWithContext(ctx); err == nil && secs > 0 {
		h.BootTime = time.Unix(int64(secs), 0).UTC()
	}
	if system, role, err := host.VirtualizationWithContext(ctx); err == nil && role == "guest" {
		h.Virtualization = system
	}
	return h, nil
}

func collectCPU(ctx context.Context, cfg Config) (any, error) {
	ctx = gopsutilContext(ctx, cfg)
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("cpu info: %w", err)
	}
	if len(infos) == 0 {
		return nil, errors.New("cpu info: no processors reported")
	}
	threads, err := cpu.CountsWithContext(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("logical cpu count: %w", err)
	}
	cores, err := cpu.CountsWithContext(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("physical cpu count: %w", err)
	}
	sockets := make(map[string]bool)
	for _, in := range infos {
		if in.PhysicalID != "" {
			sockets[in.PhysicalID] = true
		}
	}
	n := len(sockets)
	if n == 0 {
		// Windows reports one entry per socket; macOS one for the machine.
		n = len(infos)
	}
	return inventory.CPU{
		Model:   strings.TrimSpace(infos[0].ModelName),
		Sockets: n,
		Cores:   cores,
		Threads: threads,
		MHz:     math.Round(infos[0].Mhz), // nominal: WMI MaxClockSpeed, sysctl hw.cpufrequency
	}, nil
}

func collectMemory(ctx context.Context, cfg Config) (any, error) {
	ctx = gopsutilContext(ctx, cfg)
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("virtual memory: %w", err)
	}
	m := inventory.Memory{TotalBytes: vm.Total}
	if sw, err := mem.SwapMemoryWithContext(ctx); err == nil {
		m.SwapBytes = sw.Total
	}
	return m, nil
}
