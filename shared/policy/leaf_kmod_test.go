package policy

import (
	"strings"
	"testing"
)

func TestKernelModuleLeaf(t *testing.T) {
	env := loadTree(t, "kmod/root")
	runSysCases(t, env, "kernel_module", []sysCase{
		{"loaded despite install /bin/false", `{name: cramfs, loaded: false, disabled: true, blacklisted: true}`, StatusFail,
			"cramfs is loaded (in /proc/modules); install cramfs /bin/false from /etc/modprobe.d/cis.conf:2; blacklist cramfs at /etc/modprobe.d/cis.conf:3"},
		{"dash and underscore are one name", `{name: usb-storage, loaded: true}`, StatusPass, "usb_storage is loaded (in /proc/modules)"},
		{"/bin/true disables", `{name: freevxfs, disabled: true, blacklisted: true, loaded: false}`, StatusPass,
			"freevxfs is not loaded (not in /proc/modules); install freevxfs /bin/true from /etc/modprobe.d/cis.conf:4; blacklist freevxfs at /etc/modprobe.d/cis.conf:5"},
		{"continued line, commented blacklist", `{name: hfs, disabled: true, blacklisted: true}`, StatusFail,
			"install hfs /usr/bin/false from /etc/modprobe.d/cis.conf:6; no blacklist line for hfs"},
		{"install that still loads", `{name: squashfs, disabled: true}`, StatusFail,
			"install squashfs /sbin/modprobe --ignore-install squashfs $CMDLINE_OPTS from /etc/modprobe.d/cis.conf:9 (does not disable it)"},
		{"first install wins (00-first before zz-late)", `{name: udf, disabled: true}`, StatusPass,
			"install udf /bin/true from /etc/modprobe.d/00-first.conf:1"},
		{"first install wins (00-first before cis)", `{name: jffs2, disabled: true}`, StatusFail,
			"install jffs2 /sbin/modprobe --ignore-install jffs2 from /etc/modprobe.d/00-first.conf:2 (does not disable it)"},
		{"same file name in /etc masks /usr/lib", `{name: usb_storage, blacklisted: false}`, StatusPass, "no blacklist line for usb_storage"},
		{"vendor directory", `{name: dccp, blacklisted: true, disabled: true}`, StatusPass,
			"install dccp /bin/false from /usr/lib/modprobe.d/dccp.conf:3; blacklist dccp at /usr/lib/modprobe.d/dccp.conf:2"},
		{"only *.conf", `{name: tipc, blacklisted: true}`, StatusFail, "no blacklist line for tipc"},
	})
	runSysCases(t, env.image(), "kernel_module", []sysCase{
		{"image: loaded skipped", `{name: cramfs, loaded: false, disabled: true}`, StatusPass,
			"loaded: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image); install cramfs /bin/false from /etc/modprobe.d/cis.conf:2"},
		{"image: loaded only", `{name: cramfs, loaded: false}`, StatusError,
			"error: not available here: loaded needs a running kernel; loaded: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image)"},
	})
}

func TestKernelModuleParseErrors(t *testing.T) {
	got := sysProblems(t, sysPolicy(`      all:
        - kernel_module: {name: cramfs}
        - kernel_module: {name: "fs/cramfs.ko", loaded: false}
        - kernel_module: {loaded: false, blacklisted: yes}
`))
	for _, want := range []string{
		`p.yaml:7: policy p: check.all[0].kernel_module: needs at least one of loaded, disabled, blacklisted`,
		`p.yaml:8: policy p: check.all[1].kernel_module.name: "fs/cramfs.ko" is not a module name`,
		`p.yaml:9: policy p: check.all[2].kernel_module.name: required`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}

func TestKernelModuleLeafBadInput(t *testing.T) {
	env := loadTree(t, "kmod/root")
	delete(env.files, "/proc/modules")
	env.files["/etc/modprobe.d/zz-huge.conf"] = fakeFile{data: "x", size: maxConfBytes + 1, mode: 0o644}
	env.links["/etc/modprobe.d/loop.conf"] = "/etc/modprobe.d/loop.conf"
	runSysCases(t, env, "kernel_module", []sysCase{
		{"no /proc/modules on a running kernel", `{name: cramfs, loaded: false}`, StatusPass,
			"cramfs is not loaded (no /proc/modules: no loadable module support)"},
		{"link loop", `{name: cramfs, blacklisted: true}`, StatusError,
			"error: stat /etc/modprobe.d/loop.conf: /etc/modprobe.d/loop.conf: too many levels of symbolic links"},
	})
	delete(env.links, "/etc/modprobe.d/loop.conf")
	runSysCases(t, env, "kernel_module", []sysCase{
		{"huge file", `{name: cramfs, blacklisted: true}`, StatusError,
			"error: /etc/modprobe.d/zz-huge.conf: file too large (over 1048576 bytes)"},
	})
}

// In an image without /dev, /etc/modprobe.d/dccp.conf -> /dev/null still
// masks the vendor file; a dangling link elsewhere is named, not fatal.
func TestKernelModuleMaskWithoutDev(t *testing.T) {
	env := loadTree(t, "kmod/root").image()
	delete(env.files, "/dev/null")
	env.links["/etc/modprobe.d/dccp.conf"] = "/dev/null"
	env.links["/etc/modprobe.d/site.conf"] = "/srv/modprobe/site.conf"
	runSysCases(t, env, "kernel_module", []sysCase{
		{"mask in /etc over /usr/lib", `{name: dccp, blacklisted: false, disabled: false}`, StatusPass,
			"no install command for dccp; no blacklist line for dccp; /etc/modprobe.d/site.conf ignored (dangling link to /srv/modprobe/site.conf)"},
		{"other files read on", `{name: cramfs, disabled: true}`, StatusPass,
			"install cramfs /bin/false from /etc/modprobe.d/cis.conf:2; /etc/modprobe.d/site.conf ignored (dangling link to /srv/modprobe/site.conf)"},
	})
}
