package check

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// factTree builds a root in a temporary directory: files maps paths to
// contents, links maps paths to symbolic link targets.
func factTree(t *testing.T, files, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func factsOf(t *testing.T, root string) policy.Facts {
	t.Helper()
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{})
	fe, ok := env.(policy.FactEnv)
	if !ok {
		t.Fatal("the live Env is not a policy.FactEnv")
	}
	f, err := fe.Facts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFactsContainer(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  policy.Fact
	}{
		{"systemd's record", map[string]string{"run/systemd/container": "systemd-nspawn\n", ".dockerenv": ""},
			policy.Fact{Value: "systemd-nspawn", From: "/run/systemd/container", Known: true}},
		{"container manager file", map[string]string{"run/host/container-manager": "podman\n"},
			policy.Fact{Value: "podman", From: "/run/host/container-manager", Known: true}},
		{"pid 1 environment", map[string]string{"proc/1/environ": "PATH=/bin\x00container=lxc\x00HOME=/\x00", ".dockerenv": ""},
			policy.Fact{Value: "lxc", From: "container= in /proc/1/environ", Known: true}},
		{"openvz", map[string]string{"proc/vz/veinfo": ""},
			policy.Fact{Value: "openvz", From: "/proc/vz without /proc/bc", Known: true}},
		{"openvz host", map[string]string{"proc/vz/veinfo": "", "proc/bc/0": "", "proc/1/cgroup": "0::/\n"},
			policy.Fact{From: "no container marker (/run/systemd/container, /proc/1/environ, /run/.containerenv, /.dockerenv, /proc/1/cgroup)", Known: true}},
		{"wsl", map[string]string{"proc/sys/kernel/osrelease": "5.15.153.1-microsoft-standard-WSL2\n"},
			policy.Fact{Value: "wsl", From: `/proc/sys/kernel/osrelease "5.15.153.1-microsoft-standard-WSL2"`, Known: true}},
		{"podman", map[string]string{"run/.containerenv": "engine=\"podman-4.3.1\"\n", ".dockerenv": ""},
			policy.Fact{Value: "podman", From: "/run/.containerenv exists", Known: true}},
		{"docker", map[string]string{".dockerenv": ""},
			policy.Fact{Value: "docker", From: "/.dockerenv exists", Known: true}},
		{"docker cgroup", map[string]string{"proc/1/cgroup": "12:pids:/docker/3f1a9c\n0::/docker/3f1a9c\n"},
			policy.Fact{Value: "docker", From: "a docker cgroup in /proc/1/cgroup", Known: true}},
		{"kubernetes cgroup", map[string]string{"proc/1/cgroup": "0::/kubepods/besteffort/pod1\n"},
			policy.Fact{Value: "container-other", From: "a kubepods cgroup in /proc/1/cgroup", Known: true}},
		{"none", map[string]string{"etc/hostname": "h\n"},
			policy.Fact{From: "no container marker (/run/systemd/container, /proc/1/environ, /run/.containerenv, /.dockerenv, /proc/1/cgroup)", Known: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := factsOf(t, factTree(t, c.files, nil)).Container; got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestFactsVirtual(t *testing.T) {
	const flagsVM = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor lahf_lm\n\nprocessor\t: 1\nflags\t\t: fpu\n"
	const flagsHW = "processor\t: 0\nflags\t\t: fpu vme sse2 lahf_lm\n\nprocessor\t: 1\nflags\t\t: hypervisor\n"
	for _, c := range []struct {
		name  string
		files map[string]string
		want  policy.Fact
	}{
		{"qemu kvm", map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU\n", "sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)\n"},
			policy.Fact{Value: "qemu", From: `/sys/class/dmi/id/sys_vendor "QEMU"`, Known: true}},
		{"vmware", map[string]string{"sys/class/dmi/id/sys_vendor": "VMware, Inc.\n", "proc/cpuinfo": flagsVM},
			policy.Fact{Value: "vmware", From: `/sys/class/dmi/id/sys_vendor "VMware, Inc."`, Known: true}},
		{"hyper-v", map[string]string{"sys/class/dmi/id/sys_vendor": "Microsoft Corporation\n", "sys/class/dmi/id/product_name": "Virtual Machine\n"},
			policy.Fact{Value: "microsoft", From: `/sys/class/dmi/id/product_name "Virtual Machine"`, Known: true}},
		{"ec2", map[string]string{"sys/class/dmi/id/sys_vendor": "Amazon EC2\n"},
			policy.Fact{Value: "amazon", From: `/sys/class/dmi/id/sys_vendor "Amazon EC2"`, Known: true}},
		{"xen pv", map[string]string{"sys/hypervisor/type": "xen\n"},
			policy.Fact{Value: "xen", From: "/sys/hypervisor/type", Known: true}},
		{"cpu flag only", map[string]string{"proc/cpuinfo": flagsVM},
			policy.Fact{Value: "vm-other", From: "the hypervisor flag in /proc/cpuinfo", Known: true}},
		// Only the first processor's block counts.
		{"hardware", map[string]string{"sys/class/dmi/id/sys_vendor": "Dell Inc.\n", "sys/class/dmi/id/product_name": "PowerEdge R650\n", "proc/cpuinfo": flagsHW},
			policy.Fact{From: "no hypervisor in /sys/class/dmi/id, /sys/hypervisor/type or the /proc/cpuinfo flags", Known: true}},
		{"offline image", map[string]string{"etc/hostname": "h\n"},
			policy.Fact{From: "no /sys/class/dmi/id, /sys/hypervisor/type or /proc/cpuinfo to read (an offline image has no hardware)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := factsOf(t, factTree(t, c.files, nil)).Virtual; got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestFactsInitSystem(t *testing.T) {
	for _, c := range []struct {
		name         string
		files, links map[string]string
		want         policy.Fact
	}{
		{"pid 1 systemd", map[string]string{"proc/1/comm": "systemd\n"}, nil,
			policy.Fact{Value: "systemd", From: `/proc/1/comm "systemd"`, Known: true}},
		{"pid 1 openrc-init", map[string]string{"proc/1/comm": "openrc-init\n"}, nil,
			policy.Fact{Value: "openrc", From: `/proc/1/comm "openrc-init"`, Known: true}},
		{"pid 1 init with openrc", map[string]string{"proc/1/comm": "init\n", "run/openrc/softlevel": "default"}, nil,
			policy.Fact{Value: "openrc", From: `/proc/1/comm "init" and /run/openrc exists`, Known: true}},
		{"pid 1 sysvinit", map[string]string{"proc/1/comm": "init\n"}, nil,
			policy.Fact{Value: "sysvinit", From: `/proc/1/comm "init"`, Known: true}},
		{"pid 1 a shell", map[string]string{"proc/1/comm": "bash\n"}, map[string]string{"sbin/init": "/lib/systemd/systemd"},
			policy.Fact{Value: "unknown", From: `/proc/1/comm "bash"`, Known: true}},
		// Images: merged /usr, as Debian 12 (sbin -> usr/sbin) with systemd-sysv.
		{"image systemd", map[string]string{"usr/lib/systemd/systemd": ""},
			map[string]string{"sbin": "usr/sbin", "lib": "usr/lib", "usr/sbin/init": "/lib/systemd/systemd"},
			policy.Fact{Value: "systemd", From: "/sbin/init -> /lib/systemd/systemd", Known: true}},
		{"image dangling link", nil, map[string]string{"sbin/init": "/lib/systemd/systemd"},
			policy.Fact{Value: "unknown", From: "no /proc/1/comm and no /sbin/init", Known: true}},
		{"image relative link", map[string]string{"usr/lib/systemd/systemd": ""}, map[string]string{"sbin/init": "../usr/lib/systemd/systemd"},
			policy.Fact{Value: "systemd", From: "/sbin/init -> /usr/lib/systemd/systemd", Known: true}},
		{"image openrc-init", map[string]string{"sbin/openrc-init": ""}, map[string]string{"sbin/init": "openrc-init"},
			policy.Fact{Value: "openrc", From: "/sbin/init -> /sbin/openrc-init", Known: true}},
		{"image busybox and openrc", map[string]string{"bin/busybox": "", "sbin/openrc": ""}, map[string]string{"sbin/init": "/bin/busybox"},
			policy.Fact{Value: "openrc", From: "/sbin/init -> /bin/busybox and /sbin/openrc exists", Known: true}},
		{"image sysvinit-core", map[string]string{"sbin/init": "ELF", "var/lib/dpkg/info/sysvinit-core.list": "/sbin/init\n"}, nil,
			policy.Fact{Value: "sysvinit", From: "/sbin/init and /var/lib/dpkg/info/sysvinit-core.list exists", Known: true}},
		{"image no init", map[string]string{"etc/hostname": "h\n"}, nil,
			policy.Fact{Value: "unknown", From: "no /proc/1/comm and no /sbin/init", Known: true}},
		{"image link loop", nil, map[string]string{"sbin/init": "/sbin/init2", "sbin/init2": "/sbin/init"},
			policy.Fact{From: "/sbin/init: /sbin/init: too many levels of symbolic links"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := factsOf(t, factTree(t, c.files, c.links)).InitSystem; got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestFactsKernelImage(t *testing.T) {
	root := factTree(t, map[string]string{
		"boot/vmlinuz-6.1.0-9-amd64":           "",
		"boot/vmlinuz-6.1.0-28-amd64":          "",
		"usr/lib/modules/6.1.0-9-amd64/x":      "",
		"usr/lib/modules/6.1.0-30-amd64/dep":   "",
		"boot/config-6.1.0-99-amd64":           "",
		"usr/lib/modules/6.1.0-10-amd64/x.dep": "",
	}, map[string]string{"lib": "usr/lib"})
	// 6.1.0-30 (modules) is newer than 6.1.0-28 (vmlinuz) by dpkg order,
	// although "28" > "30" is false and "9" > "30" is true as text.
	want := policy.Fact{Value: "6.1.0-30-amd64", From: "newest installed kernel /lib/modules/6.1.0-30-amd64", Known: true}
	if got := factsOf(t, root).Kernel; got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	root = factTree(t, map[string]string{"proc/sys/kernel/osrelease": "6.1.0-37-amd64\n", "boot/vmlinuz-6.1.0-40-amd64": ""}, nil)
	want = policy.Fact{Value: "6.1.0-37-amd64", From: "/proc/sys/kernel/osrelease", Known: true}
	if got := factsOf(t, root).Kernel; got != want {
		t.Errorf("mounted /proc: got %+v\nwant %+v", got, want)
	}
}

// TestFactsDebianImage reads the cached Debian 12 minbase image: no
// container marker, no hardware, no init installed (minbase has no
// systemd-sysv), no kernel installed.
func TestFactsDebianImage(t *testing.T) {
	image := testimage.DebianRoot(t)
	if _, err := os.Stat(filepath.Join(image, ".steward-debootstrap-complete")); err != nil {
		t.Fatalf("the cached Debian 12 image is needed: %v", err)
	}
	// Independent facts about the image, read here directly.
	for _, p := range []string{".dockerenv", "run/.containerenv", "sbin/init", "proc/1/comm", "sys/class/dmi/id/sys_vendor", "proc/cpuinfo"} {
		if _, err := os.Lstat(filepath.Join(image, p)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("image has /%s (%v): the expectations below assume it does not", p, err)
		}
	}
	kernels, _ := filepath.Glob(filepath.Join(image, "boot", "vmlinuz-*"))
	modules, _ := filepath.Glob(filepath.Join(image, "usr", "lib", "modules", "*"))
	if len(kernels)+len(modules) != 0 {
		t.Fatalf("image has kernels %v %v: the expectations below assume none", kernels, modules)
	}
	f := factsOf(t, image)
	if !f.Container.Known || f.Container.Value != "" {
		t.Errorf("container: %+v", f.Container)
	}
	if f.Virtual.Known {
		t.Errorf("virtual: %+v", f.Virtual)
	}
	if f.InitSystem != (policy.Fact{Value: "unknown", From: "no /proc/1/comm and no /sbin/init", Known: true}) {
		t.Errorf("init: %+v", f.InitSystem)
	}
	if f.Kernel.Known {
		t.Errorf("kernel: %+v", f.Kernel)
	}
	// Through a policy: container: false passes, kernel is an error.
	ps, err := policy.Parse("image.yaml", []byte(`policies:
  - id: full-machine
    title: T
    severity: low
    applies_if: {environment: {container: false}}
    check: {environment: {kernel: {matches: '^6\.'}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(context.Background(), Config{Root: image}, inventory.Document{})
	res := policy.Evaluate(context.Background(), ps[0], env)
	if res.Status != policy.StatusError || !strings.Contains(res.Error, "kernel: not available here: no /proc/sys/kernel/osrelease, /boot/vmlinuz-* or /lib/modules/* in the image") {
		t.Errorf("image policy: %s %q", res.Status, res.Error)
	}
}

// TestFactsLiveMachine compares the live facts with what this machine's
// own tools and files say.
func TestFactsLiveMachine(t *testing.T) {
	f := factsOf(t, "")
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(out)); f.Kernel != (policy.Fact{Value: want, From: "uname", Known: true}) {
		t.Errorf("kernel %+v, uname -r says %q", f.Kernel, want)
	}
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		t.Fatal(err)
	}
	wantInit := map[string]string{"systemd": "systemd", "openrc-init": "openrc"}[strings.TrimSpace(string(comm))]
	switch _, err := os.Stat("/run/openrc"); {
	case wantInit != "":
	case strings.TrimSpace(string(comm)) == "init" && err == nil:
		wantInit = "openrc"
	case strings.TrimSpace(string(comm)) == "init":
		wantInit = "sysvinit"
	default:
		wantInit = "unknown"
	}
	if f.InitSystem.Value != wantInit || !f.InitSystem.Known {
		t.Errorf("init %+v, /proc/1/comm is %q", f.InitSystem, comm)
	}
	if !f.Container.Known || !f.Virtual.Known {
		t.Fatalf("live facts unknown: %+v", f)
	}
	detect, err := exec.LookPath("systemd-detect-virt")
	if err != nil {
		// Without the tool: compare with the DMI vendor read here.
		vendor, err := os.ReadFile("/sys/class/dmi/id/sys_vendor")
		if err != nil {
			t.Fatalf("neither systemd-detect-virt nor /sys/class/dmi/id/sys_vendor to compare with: %v", err)
		}
		if strings.Contains(strings.ToLower(string(vendor)), "qemu") != (f.Virtual.Value == "qemu" || f.Virtual.Value == "kvm") {
			t.Errorf("virtual %+v, sys_vendor %q", f.Virtual, vendor)
		}
		return
	}
	// systemd-detect-virt prints "none" and exits 1 when it finds nothing.
	ask := func(flag string) string {
		out, _ := exec.Command(detect, flag).Output()
		return strings.TrimSpace(string(out))
	}
	if want := ask("--container"); (want != "none") != (f.Container.Value != "") || (want != "none" && want != f.Container.Value) {
		t.Errorf("container %+v, systemd-detect-virt --container says %q", f.Container, want)
	}
	// The name may differ (systemd reads the hypervisor's name from
	// CPUID, which no file shows); whether there is one may not.
	if want := ask("--vm"); (want != "none") != (f.Virtual.Value != "") {
		t.Errorf("virtual %+v, systemd-detect-virt --vm says %q", f.Virtual, want)
	}
	t.Logf("facts: %+v; systemd-detect-virt: container %q, vm %q", f, ask("--container"), ask("--vm"))
}
