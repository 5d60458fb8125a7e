package collect

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

func collectHost(_ context.Context, cfg Config) (any, error) {
	dmi := func(name string) string {
		return firmwareValue(readTrim(cfg.sys("class/dmi/id/" + name)))
	}
	h := inventory.Host{
		Hostname: hostname(cfg),
		// product_uuid and product_serial are readable by root only; an
		// unprivileged agent leaves them empty rather than failing.
		HardwareUUID: strings.ToLower(dmi("product_uuid")),
		MachineID:    machineID(cfg),
		Serial:       dmi("product_serial"),
		Vendor:       dmi("sys_vendor"),
		Model:        dmi("product_name"),
		BIOSVendor:   dmi("bios_vendor"),
		BIOSVersion:  dmi("bios_version"),
		BIOSDate:     dmi("bios_date"),
		BootTime:     bootTime(cfg),
	}
	if h.Serial == "" {
		h.Serial = dmi("chassis_serial")
	}
	if h.Model == "" {
		// Boards without DMI (ARM single-board computers and servers
		// booted with a device tree) name themselves there.
		h.Model = firmwareValue(deviceTreeString(cfg, "model"))
		if h.Serial == "" {
			h.Serial = firmwareValue(deviceTreeString(cfg, "serial-number"))
		}
	}
	h.Virtualization = virtualization(cfg)
	return h, nil
}

// hostname prefers the live kernel's name and falls back to /etc/hostname,
// which is all an offline root file system has.
func hostname(cfg Config) string {
	if name := readTrim(cfg.proc("sys/kernel/hostname")); name != "" {
		return name
	}
	return readTrim(cfg.path("/etc/hostname"))
}

// machineID reads systemd's machine id, or D-Bus's copy on systems without
// systemd. "uninitialized" is what systemd writes into images before first
// boot.
func machineID(cfg Config) string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		id := readTrim(cfg.path(p))
		if id != "" && id != "uninitialized" {
			return id
		}
	}
	return ""
}

func deviceTreeString(cfg Config, name string) string {
	v := readTrim(cfg.sys("firmware/devicetree/base/" + name))
	return strings.TrimSpace(strings.TrimRight(v, "\x00"))
}

// bootTime reads btime (seconds since the epoch) from /proc/stat. Zero when
// unknown, as for an offline root.
func bootTime(cfg Config) time.Time {
	data, err := os.ReadFile(cfg.proc("stat"))
	if err != nil {
		return time.Time{}
	}
	i := bytes.Index(data, []byte("\nbtime "))
	if i < 0 {
		return time.Time{}
	}
	line := data[i+len("\nbtime "):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	secs, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	return time.Unix(secs, 0).UTC()
}
