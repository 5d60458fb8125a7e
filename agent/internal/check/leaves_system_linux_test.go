package check

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// sysImage is the cached Debian 12 minbase image the suite is
// specified with; it is only read.
const sysImage = "/var/tmp/steward-debootstrap-bookworm-minbase-amd64"

// sysEval parses one policy whose check is given in YAML flow syntax and
// evaluates it against env.
func sysEval(t *testing.T, env policy.Env, check string) policy.Result {
	t.Helper()
	ps, err := policy.Parse(t.Name()+".yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: "+check+"\n"))
	if err != nil {
		t.Fatalf("parse %s: %v", check, err)
	}
	return policy.Evaluate(context.Background(), ps[0], env)
}

// detail is the single evidence entry's detail of r.
func sysDetail(t *testing.T, r policy.Result) string {
	t.Helper()
	if len(r.Evidence) != 1 {
		t.Fatalf("want one evidence entry, got %+v", r.Evidence)
	}
	return r.Evidence[0].Detail
}

// command runs a tool the test uses as an independent source of facts.
func sysCommand(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%s: %v (this test needs it as an independent fact)", strings.Join(argv, " "), err)
	}
	return strings.TrimSpace(string(out))
}

func liveSystemEnv() policy.Env {
	return NewEnv(context.Background(), Config{}, inventory.Document{})
}

// TestSysctlLive compares the leaf's running value with what sysctl(8)
// prints, tabs and all, and its persisted value with the Debian file that
// sets kernel.pid_max.
func TestSysctlLive(t *testing.T) {
	env := liveSystemEnv()
	for _, key := range []string{"kernel.pid_max", "net.ipv4.tcp_rmem", "kernel.randomize_va_space"} {
		want := strings.Join(strings.Fields(sysCommand(t, "sysctl", "-n", key)), " ")
		r := sysEval(t, env, `{sysctl: {key: `+key+`, equals: "`+want+`", persisted: false}}`)
		if r.Status != policy.StatusPass || sysDetail(t, r) != `running "`+want+`"` {
			t.Errorf("%s: %s %q, want pass with %q", key, r.Status, sysDetail(t, r), want)
		}
	}
	data, err := os.ReadFile("/usr/lib/sysctl.d/50-pid-max.conf")
	if err != nil {
		t.Fatalf("this test needs systemd's /usr/lib/sysctl.d/50-pid-max.conf: %v", err)
	}
	line := 0
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "kernel.pid_max = 4194304") {
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatalf("50-pid-max.conf does not set kernel.pid_max = 4194304:\n%s", data)
	}
	r := sysEval(t, env, `{sysctl: {key: kernel/pid_max, equals: "4194304", runtime: false}}`)
	if want := `persisted "4194304" from /usr/lib/sysctl.d/50-pid-max.conf:` + strconv.Itoa(line); r.Status != policy.StatusPass || sysDetail(t, r) != want {
		t.Errorf("persisted: %s %q, want %q", r.Status, sysDetail(t, r), want)
	}
}

// TestMountLive compares the root mount's options with findmnt(8).
func TestMountLive(t *testing.T) {
	want := sysCommand(t, "findmnt", "-no", "OPTIONS", "/")
	fstype := sysCommand(t, "findmnt", "-no", "FSTYPE", "/")
	r := sysEval(t, liveSystemEnv(), `{mount: {path: /, mounted: true}}`)
	d := sysDetail(t, r)
	if r.Status != policy.StatusPass || !strings.HasPrefix(d, "/ mounted "+fstype+" from /proc/self/mountinfo:") || !strings.HasSuffix(d, " options "+want) {
		t.Errorf("%s %q, want %s with options %q", r.Status, d, fstype, want)
	}
	for _, o := range strings.Split(want, ",") {
		r := sysEval(t, liveSystemEnv(), `{mount: {path: /, options: ["`+o+`"]}}`)
		if r.Status != policy.StatusPass {
			t.Errorf("option %s: %s %q", o, r.Status, sysDetail(t, r))
		}
	}
	r = sysEval(t, liveSystemEnv(), `{mount: {path: /, without_options: [steward-no-such-option]}}`)
	if r.Status != policy.StatusPass {
		t.Errorf("without_options: %s %q", r.Status, sysDetail(t, r))
	}
}

// TestKernelModuleLive reads /proc/modules itself (and lsmod when it is
// installed): a listed module is loaded, an invented one is not.
func TestKernelModuleLive(t *testing.T) {
	env := liveSystemEnv()
	data, err := os.ReadFile("/proc/modules")
	if os.IsNotExist(err) {
		// No loadable module support in this kernel (or sandbox).
		r := sysEval(t, env, `{kernel_module: {name: cramfs, loaded: false}}`)
		if r.Status != policy.StatusPass || sysDetail(t, r) != "cramfs is not loaded (no /proc/modules: no loadable module support)" {
			t.Errorf("%s %q", r.Status, sysDetail(t, r))
		}
		if _, err := exec.LookPath("lsmod"); err == nil {
			if out := sysCommand(t, "lsmod"); strings.Count(out, "\n") > 0 {
				t.Errorf("lsmod lists modules although /proc/modules is absent:\n%s", out)
			}
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Fields(string(data))
	if len(first) == 0 {
		t.Fatal("/proc/modules is empty")
	}
	if _, err := exec.LookPath("lsmod"); err == nil && !strings.Contains(sysCommand(t, "lsmod"), first[0]) {
		t.Errorf("lsmod does not list %s", first[0])
	}
	r := sysEval(t, env, `{kernel_module: {name: `+first[0]+`, loaded: true}}`)
	if r.Status != policy.StatusPass {
		t.Errorf("%s: %s %q", first[0], r.Status, sysDetail(t, r))
	}
	r = sysEval(t, env, `{kernel_module: {name: steward_no_such_module, loaded: false}}`)
	if r.Status != policy.StatusPass {
		t.Errorf("invented module: %s %q", r.Status, sysDetail(t, r))
	}
}

// TestSystemLeavesImage checks the cached Debian image under --root: its
// timers are enabled by links the image holds (read here with
// os.Readlink), its /proc is empty so runtime parts are skipped, and its
// unconfigured fstab mounts nothing on /tmp.
func TestSystemLeavesImage(t *testing.T) {
	testimage.DebianRoot(t) // built once and cached; waits for another test building it
	if _, err := os.Stat(filepath.Join(sysImage, "etc/debian_version")); err != nil {
		t.Fatalf("this test needs the cached Debian 12 image: %v", err)
	}
	env := NewEnv(context.Background(), Config{Root: sysImage}, inventory.Document{})
	link := "/etc/systemd/system/timers.target.wants/apt-daily.timer"
	target, err := os.Readlink(filepath.Join(sysImage, link))
	if err != nil || filepath.Base(target) != "apt-daily.timer" {
		t.Fatalf("image link %s: %q %v", link, target, err)
	}
	r := sysEval(t, env, `{systemd_unit: {name: apt-daily.timer, enabled: true, exists: true}}`)
	if want := "apt-daily.timer: unit file /usr/lib/systemd/system/apt-daily.timer; apt-daily.timer: enabled via " + link; r.Status != policy.StatusPass || sysDetail(t, r) != want {
		t.Errorf("apt-daily.timer: %s %q, want %q", r.Status, sysDetail(t, r), want)
	}
	if _, err := os.Lstat(filepath.Join(sysImage, "etc/systemd/system/multi-user.target.wants/ssh.service")); !os.IsNotExist(err) {
		t.Fatalf("the minbase image should have no ssh enablement link: %v", err)
	}
	r = sysEval(t, env, `{systemd_unit: {name: ssh, exists: false, enabled: false}}`)
	if r.Status != policy.StatusPass {
		t.Errorf("ssh: %s %q", r.Status, sysDetail(t, r))
	}
	r = sysEval(t, env, `{sysctl: {key: kernel.randomize_va_space, equals: "2", persisted: false}}`)
	if r.Status != policy.StatusError || !strings.Contains(r.Error, "needs a running kernel") {
		t.Errorf("image runtime: %s %q %q", r.Status, r.Error, sysDetail(t, r))
	}
	fstab, err := os.ReadFile(filepath.Join(sysImage, "etc/fstab"))
	if err != nil || strings.Contains(string(fstab), "/tmp") {
		t.Fatalf("image fstab: %v\n%s", err, fstab)
	}
	r = sysEval(t, env, `{mount: {path: /tmp, mounted: false}}`)
	if r.Status != policy.StatusPass || sysDetail(t, r) != "/tmp is not a separate mount (no /etc/fstab entry)" {
		t.Errorf("image /tmp: %s %q", r.Status, sysDetail(t, r))
	}
}

// TestSystemLeavesRootTree builds a small root with real symbolic links
// (Debian's merged /lib, the 99-sysctl.conf link, a /dev/null mask, a
// link loop) and checks it under --root.
func TestSystemLeavesRootTree(t *testing.T) {
	root := t.TempDir()
	write := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/lib/sysctl.d/50-default.conf", "net.ipv4.conf.*.rp_filter = 2\nkernel.sysrq = 16\n")
	write("usr/lib/sysctl.d/50-pid-max.conf", "kernel.pid_max = 4194304\n")
	symlink("usr/lib", "lib")
	// /lib/sysctl.d/50-default.conf is the same file through the link:
	// the evidence below lists it once.
	write("etc/sysctl.d/60-net.conf", "net.ipv4.ip_forward = 0\n")
	write("etc/sysctl.conf", "# local\nnet.ipv4.ip_forward = 1\n")
	symlink("../sysctl.conf", "etc/sysctl.d/99-sysctl.conf")
	symlink("/dev/null", "etc/sysctl.d/50-pid-max.conf")
	write("dev/null", "") // the image's /dev/null is an empty file here: the link's target path makes the mask
	write("etc/modprobe.d/cis.conf", "install cramfs /bin/false\nblacklist cramfs\n")
	write("usr/lib/systemd/system/nftables.service", "[Service]\nExecStart=/usr/sbin/nft -f /etc/nftables.conf\n[Install]\nWantedBy=sysinit.target\n")
	symlink("/lib/systemd/system/nftables.service", "etc/systemd/system/sysinit.target.wants/nftables.service")
	symlink("/dev/null", "etc/systemd/system/avahi-daemon.service")
	symlink("loop.service", "etc/systemd/system/loop.service")
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{})
	cases := []struct {
		check  string
		status policy.Status
		detail string
	}{
		{`{sysctl: {key: net.ipv4.ip_forward, equals: "0"}}`, policy.StatusFail,
			`running: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image); persisted "1" (want = "0") from /etc/sysctl.conf:2 (overrides /etc/sysctl.d/60-net.conf:1)`},
		{`{sysctl: {key: kernel.pid_max, set: false, runtime: false}}`, policy.StatusPass,
			"persisted not set in /usr/lib/sysctl.d/50-default.conf, /etc/sysctl.d/60-net.conf, /etc/sysctl.conf"},
		{`{sysctl: {key: net.ipv4.conf.eth0.rp_filter, equals: "2", runtime: false}}`, policy.StatusPass,
			`persisted "2" from /usr/lib/sysctl.d/50-default.conf:1`},
		{`{kernel_module: {name: cramfs, disabled: true, blacklisted: true}}`, policy.StatusPass,
			"install cramfs /bin/false from /etc/modprobe.d/cis.conf:1; blacklist cramfs at /etc/modprobe.d/cis.conf:2"},
		{`{systemd_unit: {name: nftables, enabled: true}}`, policy.StatusPass,
			"nftables.service: enabled via /etc/systemd/system/sysinit.target.wants/nftables.service"},
		{`{systemd_unit: {name: avahi-daemon, masked: true}}`, policy.StatusPass,
			"avahi-daemon.service: masked, /etc/systemd/system/avahi-daemon.service is linked to /dev/null"},
		{`{systemd_unit: {name: loop, exists: true}}`, policy.StatusError, ""},
	}
	for _, c := range cases {
		r := sysEval(t, env, c.check)
		if r.Status != c.status || (c.detail != "" && sysDetail(t, r) != c.detail) {
			t.Errorf("%s: %s %q (error %q), want %s %q", c.check, r.Status, sysDetail(t, r), r.Error, c.status, c.detail)
		}
	}
}
