package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/version"
)

// factFileLimit bounds the small files facts are read from; /proc/cpuinfo
// of a very large machine is the biggest.
const factFileLimit = 8 << 20

// Facts tells the environment facts (policy.FactEnv). Everything is read
// through the Env's own file access, so under --root the image's files
// are read: an image has no running /proc or /sys, and what only those
// tell (a hypervisor) is then not known rather than guessed. They are
// read once per Env, that is once per evaluation, however many policies
// ask.
func (e *liveEnv) Facts(ctx context.Context) (policy.Facts, error) {
	if err := ctx.Err(); err != nil {
		return policy.Facts{}, err
	}
	return e.facts.get(ctx, func() policy.Facts {
		return policy.Facts{
			Container:  e.containerFact(ctx),
			Virtual:    e.virtualFact(ctx),
			InitSystem: e.initFact(ctx),
			Kernel:     e.kernelFact(ctx),
		}
	}), nil
}

// readFact reads a small file, trimmed; ok is false when it cannot be
// read (missing, unreadable, too large), with the reason in why.
func (e *liveEnv) readFact(ctx context.Context, p string) (text string, ok bool, why string) {
	data, err := e.ReadFile(ctx, p, factFileLimit)
	if err != nil {
		if errors.Is(err, policy.ErrNotFound) {
			return "", false, "missing"
		}
		return "", false, err.Error()
	}
	return strings.TrimSpace(string(data)), true, ""
}

func (e *liveEnv) exists(ctx context.Context, p string) bool {
	_, err := e.Stat(ctx, p)
	return err == nil
}

// containerFact follows systemd-detect-virt --container's order: what
// systemd itself recorded (/run/systemd/container, written by a PID 1
// systemd from its $container), the container manager's file
// /run/host/container-manager, PID 1's container= environment variable,
// OpenVZ's /proc/vz without /proc/bc, WSL's kernel release, then the
// files podman and docker put in a container's root (/run/.containerenv,
// /.dockerenv), and last the cgroup paths docker, LXC and Kubernetes give
// PID 1.
func (e *liveEnv) containerFact(ctx context.Context) policy.Fact {
	found := func(v, from string) policy.Fact { return policy.Fact{Value: v, From: from, Known: true} }
	for _, p := range []string{"/run/systemd/container", "/run/host/container-manager"} {
		if v, ok, _ := e.readFact(ctx, p); ok && v != "" {
			return found(firstLine(v), p)
		}
	}
	environ := "/proc/1/environ"
	if data, err := e.ReadFile(ctx, environ, factFileLimit); err == nil {
		for _, kv := range bytes.Split(data, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return found(string(v), "container= in "+environ)
			}
		}
	} else if !errors.Is(err, policy.ErrNotFound) {
		environ += " (unreadable)"
	}
	if e.exists(ctx, "/proc/vz") && !e.exists(ctx, "/proc/bc") {
		return found("openvz", "/proc/vz without /proc/bc")
	}
	if v, ok, _ := e.readFact(ctx, "/proc/sys/kernel/osrelease"); ok {
		if l := strings.ToLower(v); strings.Contains(l, "microsoft") || strings.Contains(l, "wsl") {
			return found("wsl", fmt.Sprintf("/proc/sys/kernel/osrelease %q", v))
		}
	}
	if e.exists(ctx, "/run/.containerenv") {
		return found("podman", "/run/.containerenv exists")
	}
	if e.exists(ctx, "/.dockerenv") {
		return found("docker", "/.dockerenv exists")
	}
	if v, ok, _ := e.readFact(ctx, "/proc/1/cgroup"); ok {
		switch {
		case strings.Contains(v, "/docker/") || strings.Contains(v, "/docker-"):
			return found("docker", "a docker cgroup in /proc/1/cgroup")
		case strings.Contains(v, "/lxc/") || strings.Contains(v, "/lxc.payload"):
			return found("lxc", "an lxc cgroup in /proc/1/cgroup")
		case strings.Contains(v, "/kubepods"):
			return found("container-other", "a kubepods cgroup in /proc/1/cgroup")
		}
	}
	return policy.Fact{Known: true, From: "no container marker (/run/systemd/container, " + environ + ", /run/.containerenv, /.dockerenv, /proc/1/cgroup)"}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// virtualFact looks for a hypervisor as systemd-detect-virt --vm does
// where a file can tell: the DMI identity (sys_vendor, product_name,
// bios_vendor, board_vendor), Xen's /sys/hypervisor/type, and the CPU's
// "hypervisor" flag in /proc/cpuinfo (which systemd reads from CPUID
// directly, along with the hypervisor's name; from the flag alone the
// name is "vm-other"). Without any of these files (an offline image) the
// fact is not known.
func (e *liveEnv) virtualFact(ctx context.Context) policy.Fact {
	looked := false
	for _, f := range []string{"sys_vendor", "product_name", "bios_vendor", "board_vendor"} {
		p := "/sys/class/dmi/id/" + f
		v, ok, _ := e.readFact(ctx, p)
		if !ok {
			continue
		}
		looked = true
		if name := collect.DMIHypervisor(strings.ToLower(v)); name != "" {
			return policy.Fact{Value: name, From: fmt.Sprintf("%s %q", p, v), Known: true}
		}
	}
	if v, ok, _ := e.readFact(ctx, "/sys/hypervisor/type"); ok {
		looked = true
		if v != "" {
			return policy.Fact{Value: firstLine(v), From: "/sys/hypervisor/type", Known: true}
		}
	}
	if data, err := e.ReadFile(ctx, "/proc/cpuinfo", factFileLimit); err == nil {
		looked = true
		if cpuHypervisorFlag(data) {
			return policy.Fact{Value: "vm-other", From: "the hypervisor flag in /proc/cpuinfo", Known: true}
		}
	}
	if !looked {
		return policy.Fact{From: "no /sys/class/dmi/id, /sys/hypervisor/type or /proc/cpuinfo to read (an offline image has no hardware)"}
	}
	return policy.Fact{Known: true, From: "no hypervisor in /sys/class/dmi/id, /sys/hypervisor/type or the /proc/cpuinfo flags"}
}

// cpuHypervisorFlag reads the first processor's flags line.
func cpuHypervisorFlag(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			return false // end of the first processor's block
		}
		name, flags, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(bytes.TrimSpace(name)) != "flags" {
			continue
		}
		for _, f := range bytes.Fields(flags) {
			if string(f) == "hypervisor" {
				return true
			}
		}
		return false
	}
	return false
}

// initFact names the running init system from PID 1's name
// (/proc/1/comm): systemd names itself "systemd"; OpenRC's own init is
// "openrc-init"; a plain "init" is sysvinit's (or busybox's), managing
// services with OpenRC when OpenRC's run directory /run/openrc exists.
// Without /proc (an offline image) it is what /sbin/init leads to.
func (e *liveEnv) initFact(ctx context.Context) policy.Fact {
	comm, ok, why := e.readFact(ctx, "/proc/1/comm")
	if !ok && why == "missing" {
		return e.installedInit(ctx)
	}
	if !ok {
		return policy.Fact{From: "/proc/1/comm: " + why}
	}
	from := fmt.Sprintf("/proc/1/comm %q", comm)
	switch comm {
	case "systemd":
		return policy.Fact{Value: policy.InitSystemd, From: from, Known: true}
	case "openrc-init":
		return policy.Fact{Value: policy.InitOpenRC, From: from, Known: true}
	case "init":
		if e.exists(ctx, "/run/openrc") {
			return policy.Fact{Value: policy.InitOpenRC, From: from + " and /run/openrc exists", Known: true}
		}
		return policy.Fact{Value: policy.InitSysvinit, From: from, Known: true}
	}
	return policy.Fact{Value: policy.InitUnknown, From: from, Known: true}
}

// installedInit is the init system an image would boot: where /sbin/init
// leads (systemd-sysv and Red Hat's systemd link it to systemd;
// openrc-init's package to openrc-init), else OpenRC's /sbin/openrc, else
// sysvinit when its package's file list or /etc/inittab is there.
func (e *liveEnv) installedInit(ctx context.Context) policy.Fact {
	target, err := e.followLinks("/sbin/init")
	switch {
	case err == nil:
		from := "/sbin/init"
		if target != "/sbin/init" {
			from += " -> " + target
		}
		switch path.Base(target) {
		case "systemd":
			return policy.Fact{Value: policy.InitSystemd, From: from, Known: true}
		case "openrc-init":
			return policy.Fact{Value: policy.InitOpenRC, From: from, Known: true}
		}
		if e.exists(ctx, "/sbin/openrc") {
			return policy.Fact{Value: policy.InitOpenRC, From: from + " and /sbin/openrc exists", Known: true}
		}
		for _, p := range []string{"/var/lib/dpkg/info/sysvinit-core.list", "/etc/inittab"} {
			if e.exists(ctx, p) {
				return policy.Fact{Value: policy.InitSysvinit, From: from + " and " + p + " exists", Known: true}
			}
		}
		return policy.Fact{Value: policy.InitUnknown, From: from + " (not systemd, OpenRC or sysvinit)", Known: true}
	case errors.Is(err, fs.ErrNotExist):
		return policy.Fact{Value: policy.InitUnknown, From: "no /proc/1/comm and no /sbin/init", Known: true}
	default:
		return policy.Fact{From: "/sbin/init: " + err.Error()}
	}
}

// followLinks resolves symbolic links at p (and its directories) inside
// the root, returning the final path on the checked system; an error
// wrapping fs.ErrNotExist when it leads nowhere.
func (e *liveEnv) followLinks(p string) (string, error) {
	for range maxSymlinks {
		dir, err := e.hostPath(path.Dir(p))
		if err != nil {
			return "", err
		}
		fi, err := os.Lstat(filepath.Join(dir, path.Base(p)))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		target, err := os.Readlink(filepath.Join(dir, path.Base(p)))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", p)
}

// kernelFact is the running kernel's release (uname -r) on the live
// machine; under --root the tree's /proc/sys/kernel/osrelease when it
// has one (a mounted /proc), else the newest kernel installed, by Debian
// version order, among /boot/vmlinuz-* and /lib/modules/*.
func (e *liveEnv) kernelFact(ctx context.Context) policy.Fact {
	if e.root == "" {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			return policy.Fact{From: "uname: " + err.Error()}
		}
		return policy.Fact{Value: unix.ByteSliceToString(u.Release[:]), From: "uname", Known: true}
	}
	if v, ok, _ := e.readFact(ctx, "/proc/sys/kernel/osrelease"); ok && v != "" {
		return policy.Fact{Value: v, From: "/proc/sys/kernel/osrelease", Known: true}
	}
	best, from := "", ""
	for _, pattern := range []string{"/boot/vmlinuz-*", "/lib/modules/*"} {
		matches, err := e.Glob(ctx, pattern)
		if err != nil {
			continue
		}
		prefix := strings.TrimSuffix(pattern, "*")
		for _, m := range matches {
			v := strings.TrimPrefix(m, prefix)
			if v == "" || strings.ContainsAny(v, "/ ") {
				continue
			}
			if best == "" || newerKernel(v, best) {
				best, from = v, m
			}
		}
	}
	if best == "" {
		return policy.Fact{From: "no /proc/sys/kernel/osrelease, /boot/vmlinuz-* or /lib/modules/* in the image"}
	}
	return policy.Fact{Value: best, From: "newest installed kernel " + from, Known: true}
}

// newerKernel orders releases as dpkg orders versions ("6.1.0-28" after
// "6.1.0-9"), falling back to text order for what it cannot read.
func newerKernel(a, b string) bool {
	if c, err := version.CompareDebian(a, b); err == nil {
		return c > 0
	}
	return a > b
}
