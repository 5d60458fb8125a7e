package collect

import (
	"os"
	"path/filepath"
	"testing"
)

func TestVirtualization(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files map[string]string // path under the fake root -> content
		want  string
	}{
		{"bare metal", map[string]string{"sys/class/dmi/id/sys_vendor": "Dell Inc.", "proc/cpuinfo": "processor : 0\nflags : fpu sse\n"}, ""},
		{"kvm", map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU", "sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)", "sys/class/dmi/id/bios_vendor": "SeaBIOS", "sys/class/dmi/id/board_vendor": "KVM"}, "kvm"},
		{"plain qemu", map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU", "sys/class/dmi/id/product_name": "Standard PC (i440FX + PIIX, 1996)"}, "qemu"},
		{"vmware", map[string]string{"sys/class/dmi/id/sys_vendor": "VMware, Inc.", "sys/class/dmi/id/product_name": "VMware Virtual Platform"}, "vmware"},
		{"hyper-v", map[string]string{"sys/class/dmi/id/sys_vendor": "Microsoft Corporation", "sys/class/dmi/id/product_name": "Virtual Machine"}, "microsoft"},
		{"virtualbox", map[string]string{"sys/class/dmi/id/sys_vendor": "innotek GmbH", "sys/class/dmi/id/product_name": "VirtualBox"}, "oracle"},
		{"ec2 nitro", map[string]string{"sys/class/dmi/id/sys_vendor": "Amazon EC2", "sys/class/dmi/id/product_name": "m6i.large", "sys/class/dmi/id/bios_vendor": "Amazon EC2"}, "amazon"},
		{"xen pv", map[string]string{"sys/hypervisor/type": "xen"}, "xen"},
		{"unknown hypervisor from the cpu flag", map[string]string{"proc/cpuinfo": "processor : 0\nflags : fpu hypervisor sse\n\nprocessor : 1\n"}, "vm-other"},
		{"docker beats the vm under it", map[string]string{".dockerenv": "", "sys/class/dmi/id/sys_vendor": "QEMU"}, "docker"},
		{"podman", map[string]string{"run/.containerenv": ""}, "podman"},
		{"systemd's own verdict", map[string]string{"run/systemd/container": "systemd-nspawn\n"}, "systemd-nspawn"},
		{"docker from cgroup v1", map[string]string{"proc/1/cgroup": "12:pids:/docker/4f1c0a9e\n"}, "docker"},
		{"lxc from cgroup", map[string]string{"proc/1/cgroup": "0::/lxc.payload.web01/init.scope\n"}, "lxc"},
		{"wsl", map[string]string{"proc/sys/kernel/osrelease": "5.15.133.1-microsoft-standard-WSL2"}, "wsl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for p, content := range c.files {
				full := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := virtualization(Config{Root: root}.withDefaults()); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
