package wininv

import (
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// BIOSPath is the registry copy of the SMBIOS system and BIOS strings that
// the kernel writes at boot; it serves when the raw tables cannot be read.
const BIOSPath = `HARDWARE\DESCRIPTION\System\BIOS`

// Identity fills the host section's hardware fields from the SMBIOS tables,
// falling back to the registry copy field by field. keep returns a value
// unchanged or "" for a vendor placeholder; it is applied before the
// fallbacks so that a placeholder system serial gives way to the chassis
// serial, as on Linux.
func Identity(s SMBIOS, bios *Key, keep func(string) string) inventory.Host {
	pick := func(v, regName string) string {
		if v = keep(v); v != "" {
			return v
		}
		return keep(bios.String(regName))
	}
	h := inventory.Host{
		HardwareUUID: keep(s.UUID),
		Serial:       keep(s.Serial),
		Vendor:       pick(s.Manufacturer, "SystemManufacturer"),
		Model:        pick(s.Product, "SystemProductName"),
		BIOSVendor:   pick(s.BIOSVendor, "BIOSVendor"),
		BIOSVersion:  pick(s.BIOSVersion, "BIOSVersion"),
		BIOSDate:     pick(s.BIOSDate, "BIOSReleaseDate"),
	}
	if h.Serial == "" {
		h.Serial = keep(s.ChassisSerial)
	}
	h.Virtualization = Hypervisor(h.Vendor, h.Model, h.BIOSVendor, h.BIOSVersion)
	return h
}

// hypervisors maps a substring of the firmware strings to the hypervisor,
// in systemd-detect-virt's vocabulary like the Linux agent. Order matters:
// KVM guests also say QEMU, and Amazon's and Google's VMs are KVM
// underneath but worth naming.
var hypervisors = []struct{ marker, name string }{
	{"amazon ec2", "amazon"},
	{"google compute engine", "google"},
	{"kvm", "kvm"},
	{"qemu", "qemu"},
	{"vmware", "vmware"},
	{"innotek gmbh", "oracle"},
	{"virtualbox", "oracle"},
	{"xen", "xen"},
	{"parallels", "parallels"},
	{"bhyve", "bhyve"},
	{"hyper-v", "microsoft"},
	{"virtual machine", "microsoft"}, // Hyper-V's product name
}

// Hypervisor names the hypervisor that the firmware strings betray, or ""
// for physical hardware or an unknown one.
func Hypervisor(fields ...string) string {
	joined := strings.ToLower(strings.Join(fields, "\n"))
	for _, h := range hypervisors {
		if strings.Contains(joined, h.marker) {
			return h.name
		}
	}
	return ""
}
