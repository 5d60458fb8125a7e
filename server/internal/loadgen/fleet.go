package loadgen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// CommonShare is the share of a host's packages that every host of its
// release has at the same version; the rest vary in name and version.
const CommonShare = 0.8

// Fleet builds simulated hosts' inventories from catalogs shared by every
// host. A host's inventory is built when it is sent and dropped after, so
// memory does not grow with the number of agents.
type Fleet struct {
	packages int
	varying  int
	catalogs []*releaseCatalog
}

// NewFleet prepares the catalogs for hosts with packages packages each.
func NewFleet(packages int) (*Fleet, error) {
	if packages < 0 {
		return nil, fmt.Errorf("fleet: negative package count %d", packages)
	}
	common := int(float64(packages) * CommonShare)
	f := &Fleet{packages: packages, varying: packages - common}
	for _, rel := range releases {
		c, err := newReleaseCatalog(rel, common, f.varying)
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		f.catalogs = append(f.catalogs, c)
	}
	return f, nil
}

// Inventory returns hostname's first inventory message: every section in
// full and the digest over their hashes, built the way the agent builds
// it (canonical JSON, SHA-256, inventory.Digest). The same hostname always
// yields the same sections, so a fleet reloaded from a state file reports
// what it reported before.
func (f *Fleet) Inventory(hostname string, now time.Time) (wire.Inventory, error) {
	seed := hash64(hostname)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ri := pickWeighted(rng, releaseWeights)
	rel := releases[ri]
	hw := hardwareProfiles[rng.IntN(len(hardwareProfiles))]
	id := sha256.Sum256([]byte(hostname))

	inv := wire.Inventory{CollectedAt: now.UTC()}
	hashes := make(map[string]string, len(inventory.SectionNames))
	add := func(name string, data []byte) {
		h := inventory.Hash(data)
		hashes[name] = h
		inv.Sections = append(inv.Sections, wire.Section{Name: name, Hash: h, Data: data})
	}
	structured := []struct {
		name string
		v    any
	}{
		{inventory.SectionHost, hostSection(hostname, hw, id, rng)},
		{inventory.SectionOS, rel.os},
		{inventory.SectionCPU, hw.cpu},
		{inventory.SectionMemory, inventory.Memory{TotalBytes: hw.memGiB << 30, SwapBytes: min(hw.memGiB, 8) << 30}},
		{inventory.SectionDisks, diskSection(rel, hw, rng)},
		{inventory.SectionNetwork, networkSection(hw, id)},
	}
	for _, s := range structured {
		data, err := inventory.Canonical(s.v)
		if err != nil {
			return wire.Inventory{}, fmt.Errorf("inventory %s: %w", s.name, err)
		}
		add(s.name, data)
	}
	add(inventory.SectionSoftware, f.catalogs[ri].software(rng, f.varying))
	// Like the agent's first report, name every known section it does not
	// send, so a stale one left on the server does not keep the digests apart.
	for _, name := range inventory.SectionNames {
		if _, ok := hashes[name]; !ok {
			inv.Removed = append(inv.Removed, name)
		}
	}
	inv.Digest = inventory.Digest(hashes)
	return inv, nil
}

// software splices the common entries and a random choice of optional
// ones, both sorted by name, into the section's canonical JSON. Package
// objects are canonical on their own and the section has one key, so the
// result is exactly inventory.Canonical of the whole section, without
// re-encoding hundreds of packages per host.
func (c *releaseCatalog) software(rng *rand.Rand, varying int) []byte {
	picks := rng.Perm(len(c.optional))[:varying]
	slices.Sort(picks)
	size := 16
	for _, e := range c.common {
		size += len(e.data) + 1
	}
	size += varying * 160
	buf := make([]byte, 0, size)
	buf = append(buf, `{"packages":[`...)
	n := 0
	put := func(e catalogEntry) {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e.data...)
		n++
	}
	i := 0
	for _, p := range picks {
		opt := c.optional[p][rng.IntN(optionalVersions)]
		for i < len(c.common) && c.common[i].name < opt.name {
			put(c.common[i])
			i++
		}
		put(opt)
	}
	for ; i < len(c.common); i++ {
		put(c.common[i])
	}
	return append(buf, "]}"...)
}

func pickWeighted(rng *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := rng.IntN(total)
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

// hardware is one machine model in the fleet.
type hardware struct {
	vendor, model, biosVendor, biosVersion, virt string
	cpu                                          inventory.CPU
	memGiB                                       uint64
	disk, diskModel, nic                         string
	diskBytes                                    uint64
	rotational                                   bool
}

var hardwareProfiles = []hardware{
	{vendor: "Dell Inc.", model: "PowerEdge R650", biosVendor: "Dell Inc.", biosVersion: "1.13.2",
		cpu:    inventory.CPU{Model: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", Sockets: 2, Cores: 64, Threads: 128, MHz: 2000},
		memGiB: 256, disk: "/dev/nvme0n1", diskModel: "Dell Ent NVMe P5600 MU U.2 1.6TB", diskBytes: 1600321314816, nic: "eno12399np0"},
	{vendor: "HPE", model: "ProLiant DL360 Gen10", biosVendor: "HPE", biosVersion: "U32",
		cpu:    inventory.CPU{Model: "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz", Sockets: 2, Cores: 24, Threads: 48, MHz: 2400},
		memGiB: 128, disk: "/dev/sda", diskModel: "LOGICAL VOLUME", diskBytes: 1200209133568, rotational: true, nic: "eno1"},
	{vendor: "Lenovo", model: "ThinkSystem SR630 V2", biosVendor: "Lenovo", biosVersion: "AFE124B-2.11",
		cpu:    inventory.CPU{Model: "Intel(R) Xeon(R) Gold 5318Y CPU @ 2.10GHz", Sockets: 2, Cores: 48, Threads: 96, MHz: 2100},
		memGiB: 192, disk: "/dev/sda", diskModel: "ThinkSystem M.2", diskBytes: 480103981056, nic: "ens1f0"},
	{vendor: "QEMU", model: "Standard PC (Q35 + ICH9, 2009)", biosVendor: "SeaBIOS", biosVersion: "1.16.2-debian-1.16.2-1", virt: "kvm",
		cpu:    inventory.CPU{Model: "AMD EPYC 7763 64-Core Processor", Sockets: 1, Cores: 4, Threads: 4, MHz: 2445.406},
		memGiB: 8, disk: "/dev/vda", diskBytes: 53687091200, nic: "enp1s0"},
	{vendor: "VMware, Inc.", model: "VMware Virtual Platform", biosVendor: "Phoenix Technologies LTD", biosVersion: "6.00", virt: "vmware",
		cpu:    inventory.CPU{Model: "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", Sockets: 2, Cores: 2, Threads: 2, MHz: 2999.998},
		memGiB: 16, disk: "/dev/sda", diskModel: "Virtual disk", diskBytes: 107374182400, nic: "ens192"},
	{vendor: "Amazon EC2", model: "m6i.large", biosVendor: "Amazon EC2", biosVersion: "1.0", virt: "kvm",
		cpu:    inventory.CPU{Model: "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", Sockets: 1, Cores: 1, Threads: 2, MHz: 2899.956},
		memGiB: 8, disk: "/dev/nvme0n1", diskModel: "Amazon Elastic Block Store", diskBytes: 32212254720, nic: "ens5"},
}

func hostSection(hostname string, hw hardware, id [32]byte, rng *rand.Rand) inventory.Host {
	boot := time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(90*24*3600)) * time.Second)
	return inventory.Host{
		Hostname:       hostname,
		HardwareUUID:   fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16]),
		MachineID:      hex.EncodeToString(id[16:32]),
		Serial:         fmt.Sprintf("%X", id[20:25]),
		Vendor:         hw.vendor,
		Model:          hw.model,
		BIOSVendor:     hw.biosVendor,
		BIOSVersion:    hw.biosVersion,
		BIOSDate:       "04/11/2024",
		Virtualization: hw.virt,
		BootTime:       boot,
	}
}

func diskSection(rel release, hw hardware, rng *rand.Rand) inventory.Disks {
	fs := "ext4"
	if rel.source == inventory.SourceRPM {
		fs = "xfs"
	}
	part := hw.disk
	if hw.disk[len(hw.disk)-1] >= '0' && hw.disk[len(hw.disk)-1] <= '9' {
		part += "p" // nvme0n1 -> nvme0n1p1
	}
	root := hw.diskBytes - 1<<30 - 512<<20
	encrypted := rng.IntN(4) == 0
	return inventory.Disks{
		Physical: []inventory.PhysicalDisk{{Device: hw.disk, Model: hw.diskModel, SizeBytes: hw.diskBytes, Rotational: hw.rotational}},
		Volumes: []inventory.Volume{
			{Device: part + "3", Mount: "/", FS: fs, SizeBytes: root, FreeBytes: root / 100 * uint64(20+rng.IntN(70)), Encrypted: &encrypted},
			{Device: part + "2", Mount: "/boot", FS: fs, SizeBytes: 1 << 30, FreeBytes: 700 << 20},
			{Device: part + "1", Mount: "/boot/efi", FS: "vfat", SizeBytes: 512 << 20, FreeBytes: 500 << 20},
		},
	}
}

func networkSection(hw hardware, id [32]byte) inventory.Network {
	return inventory.Network{Interfaces: []inventory.Interface{
		{Name: hw.nic, MAC: fmt.Sprintf("52:54:00:%02x:%02x:%02x", id[26], id[27], id[28]),
			Addresses: []string{fmt.Sprintf("10.%d.%d.%d/16", 16+id[29]%16, id[30], id[31]|1)}, Up: true, MTU: 1500},
		{Name: "lo", Addresses: []string{"127.0.0.1/8", "::1/128"}, Up: true, MTU: 65536},
	}}
}
