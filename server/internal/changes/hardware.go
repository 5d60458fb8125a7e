package changes

import (
	"fmt"

	"github.com/steward-project/steward/shared/inventory"
)

// hostChanges compares identity and firmware fields. Boot time is left
// out: it changes at every reboot and is not a change to the machine.
func hostChanges(old, new inventory.Host) []Change {
	var out []Change
	if old.Hostname != new.Hostname {
		out = append(out, Change{Kind: HostnameChanged, Subject: "hostname", Old: old.Hostname, New: new.Hostname})
	}
	return append(out, fieldChanges(HardwareChanged, []field{
		{"vendor", old.Vendor, new.Vendor},
		{"model", old.Model, new.Model},
		{"serial", old.Serial, new.Serial},
		{"hardware_uuid", old.HardwareUUID, new.HardwareUUID},
		{"machine_id", old.MachineID, new.MachineID},
		{"bios_vendor", old.BIOSVendor, new.BIOSVendor},
		{"bios_version", old.BIOSVersion, new.BIOSVersion},
		{"bios_date", old.BIOSDate, new.BIOSDate},
		{"virtualization", old.Virtualization, new.Virtualization},
	})...)
}

// cpuChanges compares the processor; its clock speed is left out because
// some platforms report the current, not the rated, frequency.
func cpuChanges(old, new inventory.CPU) []Change {
	return fieldChanges(HardwareChanged, []field{
		{"cpu.model", old.Model, new.Model},
		{"cpu.sockets", itoa(old.Sockets), itoa(new.Sockets)},
		{"cpu.cores", itoa(old.Cores), itoa(new.Cores)},
		{"cpu.threads", itoa(old.Threads), itoa(new.Threads)},
	})
}

// memoryChanges compares installed memory; swap is configuration, not
// hardware, and is left out.
func memoryChanges(old, new inventory.Memory) []Change {
	return fieldChanges(HardwareChanged, []field{
		{"memory.total_bytes", utoa(old.TotalBytes), utoa(new.TotalBytes)},
	})
}

type physicalDisks struct {
	Physical []inventory.PhysicalDisk `json:"physical"`
}

type diskDetails struct {
	Device    string `json:"device"`
	Model     string `json:"model,omitempty"`
	Serial    string `json:"serial,omitempty"`
	SizeBytes uint64 `json:"size_bytes"`
}

// diskChanges compares physical disks only: volumes' free space changes
// all the time and is not a hardware change. A disk is the same disk when
// its serial number is, whatever device name it got this boot; disks
// without a serial are matched by device.
//
// Only physical disks are decoded; the volume list is skipped.
func diskChanges(old, new physicalDisks) []Change {
	key := func(d inventory.PhysicalDisk) string {
		if d.Serial != "" {
			return "serial:" + d.Serial
		}
		return "device:" + d.Device
	}
	before, after := byKey(old.Physical, key), byKey(new.Physical, key)
	var out []Change
	for _, k := range unionKeys(before, after) {
		o, hadOld := before[k]
		n, hasNew := after[k]
		switch {
		case !hadOld:
			out = append(out, Change{Kind: HardwareChanged, Subject: "disk", New: describeDisk(n), Details: diskDetail(n)})
		case !hasNew:
			out = append(out, Change{Kind: HardwareChanged, Subject: "disk", Old: describeDisk(o), Details: diskDetail(o)})
		case o.SizeBytes != n.SizeBytes || o.Model != n.Model:
			out = append(out, Change{Kind: HardwareChanged, Subject: "disk", Old: describeDisk(o), New: describeDisk(n), Details: diskDetail(n)})
		}
	}
	return out
}

func describeDisk(d inventory.PhysicalDisk) string {
	if d.Model == "" {
		return fmt.Sprintf("%s, %d bytes", d.Device, d.SizeBytes)
	}
	return fmt.Sprintf("%s: %s, %d bytes", d.Device, d.Model, d.SizeBytes)
}

func diskDetail(d inventory.PhysicalDisk) []byte {
	return details(diskDetails{Device: d.Device, Model: d.Model, Serial: d.Serial, SizeBytes: d.SizeBytes})
}
