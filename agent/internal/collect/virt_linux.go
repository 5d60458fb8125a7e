package collect

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// virtualization names the container manager or hypervisor the machine runs
// under, in systemd-detect-virt's vocabulary (docker, kvm, vmware, ...), or
// "" for bare metal or when nothing cheap tells. A container wins over the
// VM it may run in, as with systemd-detect-virt.
func virtualization(cfg Config) string {
	if c := container(cfg); c != "" {
		return c
	}
	return hypervisor(cfg)
}

func container(cfg Config) string {
	if v := readTrim(cfg.path("/run/systemd/container")); v != "" {
		return v // written by systemd inside containers it detected itself
	}
	if exists(cfg.path("/run/.containerenv")) {
		return "podman"
	}
	if exists(cfg.path("/.dockerenv")) {
		return "docker"
	}
	release := strings.ToLower(readTrim(cfg.proc("sys/kernel/osrelease")))
	if strings.Contains(release, "microsoft") || strings.Contains(release, "wsl") {
		return "wsl"
	}
	cgroup := readTrim(cfg.proc("1/cgroup"))
	switch {
	case strings.Contains(cgroup, "/docker/") || strings.Contains(cgroup, "/docker-"):
		return "docker"
	case strings.Contains(cgroup, "/lxc/") || strings.Contains(cgroup, "/lxc.payload"):
		return "lxc"
	case strings.Contains(cgroup, "/kubepods"):
		return "container-other"
	}
	return ""
}

// dmiHypervisors maps a substring of a DMI vendor, product or BIOS vendor
// to the hypervisor. Order matters: KVM guests also say QEMU, and Amazon's
// Nitro and Google's VMs are KVM underneath but worth naming.
var dmiHypervisors = []struct{ marker, name string }{
	{"amazon ec2", "amazon"},
	{"google compute engine", "google"},
	{"kvm", "kvm"},
	{"qemu", "qemu"},
	{"vmware", "vmware"},
	{"innotek gmbh", "oracle"},
	{"virtualbox", "oracle"},
	{"xen", "xen"},
	{"bochs", "bochs"},
	{"parallels", "parallels"},
	{"bhyve", "bhyve"},
	{"apple virtualization", "apple"},
	{"hyper-v", "microsoft"},
	{"virtual machine", "microsoft"}, // Hyper-V's product_name
}

// DMIHypervisor names the hypervisor that DMI identity text (sys_vendor,
// product_name, bios_vendor, board_vendor: one or several, lower-cased)
// points to, in systemd-detect-virt's names; "" when none does.
func DMIHypervisor(lower string) string {
	for _, h := range dmiHypervisors {
		if strings.Contains(lower, h.marker) {
			return h.name
		}
	}
	return ""
}

func hypervisor(cfg Config) string {
	var hints []string
	for _, f := range []string{"sys_vendor", "product_name", "bios_vendor", "board_vendor", "bios_version"} {
		if v := readTrim(cfg.sys("class/dmi/id/" + f)); v != "" {
			hints = append(hints, strings.ToLower(v))
		}
	}
	if name := DMIHypervisor(strings.Join(hints, "\n")); name != "" {
		return name
	}
	if t := readTrim(cfg.sys("hypervisor/type")); t != "" {
		return t // "xen" on Xen PV guests, which have no DMI
	}
	if cpuHasHypervisorFlag(cfg) {
		return "vm-other"
	}
	return ""
}

// cpuHasHypervisorFlag reads only the first processor's block of
// /proc/cpuinfo: the "hypervisor" flag is set by the CPU on every guest.
func cpuHasHypervisorFlag(cfg Config) bool {
	f, err := os.Open(cfg.proc("cpuinfo"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			return false
		}
		if !bytes.HasPrefix(line, []byte("flags")) {
			continue
		}
		_, flags, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		for _, fl := range bytes.Fields(flags) {
			if string(fl) == "hypervisor" {
				return true
			}
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
