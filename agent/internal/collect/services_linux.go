package collect

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// The "services" section comes from files only: no systemctl, no D-Bus.
//
// Where systemd runs the machine (sd_booted: /run/systemd/system exists),
// services are the *.service unit files in systemd's search path. Start
// modes follow `systemctl list-unit-files`, mapped to the Windows terms the
// document uses: enabled (a symlink in a *.wants, *.requires or *.upholds
// directory, or an Alias= symlink, under /etc or /run) is "auto"; masked
// (a symlink to /dev/null or an empty file) is "disabled", as it cannot be
// started at all; everything else, static units and disabled ones, is
// "manual": it starts when asked, or through a socket, timer or another
// unit. Templates (getty@.service) are listed only through their enabled
// instances (getty@tty1). Aliases are not listed under their alias name.
// Names drop the ".service" suffix, as `systemctl status ssh` and
// `service ssh status` do; Path is the unit file.
//
// State comes from the cgroup tree: systemd gives every active unit a
// cgroup directory and removes it when the unit stops, so a unit whose
// cgroup holds processes is "running" and any other one "stopped". Two
// consequences: a oneshot unit that ran and exited ("active (exited)") is
// stopped, and "failed" is never reported, since systemd keeps the failed
// state only in its own memory, which needs D-Bus.
//
// Where systemd is not PID 1 (containers, other init systems), services
// are the scripts in /etc/init.d; see services_sysv_linux.go. An offline
// root (--root) gets unit files when the image has systemd installed, init
// scripts otherwise, and state "unknown" either way.

func collectServices(ctx context.Context, cfg Config) (any, error) {
	offline := offlineRoot(cfg)
	var (
		svcs []inventory.Service
		err  error
	)
	switch {
	case !offline && exists(cfg.path("/run/systemd/system")):
		svcs, err = systemdServices(ctx, cfg, true)
	case offline && (exists(inRoot(cfg.Root, "/usr/lib/systemd/systemd")) || exists(inRoot(cfg.Root, "/lib/systemd/systemd"))):
		svcs, err = systemdServices(ctx, cfg, false)
	default:
		svcs, err = sysvServices(ctx, cfg, !offline)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(svcs, func(a, b inventory.Service) int { return strings.Compare(a.Name, b.Name) })
	return inventory.Services{Services: svcs}, nil
}

// offlineRoot reports whether cfg reads another system's files (--root),
// whose running state the live kernel does not know.
func offlineRoot(cfg Config) bool {
	k, ok := cfg.kernel.(liveKernel)
	return ok && k.offline
}

// inRoot returns where name, an absolute path on the inspected system, is
// found under root, resolving symbolic links as that system would: an
// absolute link target (/lib -> /usr/lib, a unit linked to
// /lib/systemd/system/x.service) starts again at root instead of reaching
// the host's own files.
func inRoot(root, name string) string {
	if filepath.Clean(root) == "/" {
		return filepath.Clean(name)
	}
	cur := "/"
	rest := strings.Split(name, "/")
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil || hops >= 40 { // not a link, missing, or a loop
			cur = next
			continue
		}
		hops++
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, cur)
}

// systemdUnitDirs are the directories systemd loads system units from, in
// its order of precedence (systemd.unit(5)): a name in an earlier one hides
// the same name in later ones. /usr/lib comes before /lib so that merged-usr
// systems, where both are one directory, report the canonical path.
// Transient units (systemd-run) and portable service attachments are left
// out: they are not installed services.
var systemdUnitDirs = []string{
	"/etc/systemd/system",
	"/run/systemd/system",
	"/run/systemd/generator",
	"/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system",
	"/lib/systemd/system",
	"/run/systemd/generator.late",
}

// systemdEnableDirs hold the symlinks that enable units: made by the admin
// or a package (/etc), at run time (/run), or by a generator (the SysV
// wrapper units). Symlinks in vendor directories are static dependencies,
// which systemctl reports as "static", not "enabled".
var systemdEnableDirs = []string{
	"/etc/systemd/system",
	"/run/systemd/system",
	"/run/systemd/generator",
	"/run/systemd/generator.late",
}

// unitFile is where a unit name is defined.
type unitFile struct {
	path   string // the unit file on the inspected system
	masked bool
	alias  bool // a symlink giving another unit a second name
}

func systemdServices(ctx context.Context, cfg Config, live bool) ([]inventory.Service, error) {
	units := systemdUnitFiles(cfg)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	enabled := systemdEnabled(cfg)
	var running map[string]bool
	if live {
		running = runningServiceCgroups(cfg.sys("fs/cgroup"))
	}
	out := make([]inventory.Service, 0, len(units))
	add := func(name, instance string, u unitFile, on bool) {
		s := inventory.Service{
			Name:      strings.TrimSuffix(name, ".service"),
			State:     inventory.ServiceUnknown,
			StartMode: inventory.StartManual,
			Path:      u.path,
		}
		switch {
		case u.masked:
			s.StartMode = inventory.StartDisabled
		case on:
			s.StartMode = inventory.StartAuto
		}
		if !u.masked {
			s.DisplayName = unitDescription(inRoot(cfg.Root, u.path), name, instance)
		}
		if live {
			s.State = inventory.ServiceStopped
			if running[name] {
				s.State = inventory.ServiceRunning
			}
		}
		out = append(out, s)
	}
	for name, u := range units {
		if !u.alias && !strings.HasSuffix(name, "@.service") {
			add(name, "", u, enabled[name])
		}
	}
	for name := range enabled {
		if _, ok := units[name]; ok {
			continue
		}
		prefix, instance, ok := strings.Cut(strings.TrimSuffix(name, ".service"), "@")
		if !ok || instance == "" {
			continue
		}
		if u, ok := units[prefix+"@.service"]; ok && !u.alias {
			add(name, instance, u, true)
		}
	}
	return out, nil
}

// systemdUnitFiles maps each *.service name to the file that defines it.
func systemdUnitFiles(cfg Config) map[string]unitFile {
	units := make(map[string]unitFile)
	for _, dir := range systemdUnitDirs {
		hostDir := inRoot(cfg.Root, dir)
		entries, err := os.ReadDir(hostDir)
		if err != nil {
			continue // most of these directories do not exist on a given system
		}
		for _, e := range entries {
			name := e.Name()
			if _, seen := units[name]; seen || !strings.HasSuffix(name, ".service") || e.IsDir() {
				continue
			}
			if u, ok := readUnitEntry(cfg, dir, hostDir, e); ok {
				units[name] = u
			}
		}
	}
	return units
}

func readUnitEntry(cfg Config, dir, hostDir string, e fs.DirEntry) (unitFile, bool) {
	name := e.Name()
	u := unitFile{path: dir + "/" + name}
	if e.Type()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(filepath.Join(hostDir, name))
		if err != nil {
			return u, false
		}
		if target == "/dev/null" {
			u.masked = true
			return u, true
		}
		if path.Base(target) != name {
			u.alias = true
			return u, true
		}
		if !path.IsAbs(target) {
			target = path.Join(dir, target)
		}
		u.path = target // a linked unit (systemctl link)
	}
	fi, err := os.Stat(inRoot(cfg.Root, u.path))
	if err != nil {
		return u, false // a dangling link: systemd reports it not-found
	}
	u.masked = fi.Size() == 0 || fi.Mode()&fs.ModeCharDevice != 0
	return u, true
}

// systemdEnabled returns the names of the units that some symlink in an
// enablement directory pulls in, instances (getty@tty1.service) included.
func systemdEnabled(cfg Config) map[string]bool {
	enabled := make(map[string]bool)
	for _, dir := range systemdEnableDirs {
		hostDir := inRoot(cfg.Root, dir)
		entries, _ := os.ReadDir(hostDir)
		for _, e := range entries {
			name := e.Name()
			switch {
			case e.IsDir() && (strings.HasSuffix(name, ".wants") || strings.HasSuffix(name, ".requires") || strings.HasSuffix(name, ".upholds")):
				links, _ := os.ReadDir(filepath.Join(hostDir, name))
				for _, l := range links {
					if strings.HasSuffix(l.Name(), ".service") {
						enabled[l.Name()] = true
					}
				}
			case e.Type()&fs.ModeSymlink != 0 && strings.HasSuffix(name, ".service"):
				// An Alias= symlink (display-manager.service -> gdm3.service)
				// is how some units are enabled.
				target, err := os.Readlink(filepath.Join(hostDir, name))
				if err == nil && target != "/dev/null" && path.Base(target) != name {
					enabled[path.Base(target)] = true
				}
			}
		}
	}
	return enabled
}

// unitDescription returns Description= from the [Unit] section, with the
// instance specifiers filled in for template instances. Drop-ins that
// override it are not read.
func unitDescription(file, name, instance string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if section != "[Unit]" {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "Description" {
			return expandUnitSpecifiers(strings.TrimSpace(v), name, instance)
		}
	}
	return ""
}

// expandUnitSpecifiers fills in the name specifiers of systemd.unit(5)
// that descriptions use; others are left as written.
func expandUnitSpecifiers(s, name, instance string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	prefix, _, _ := strings.Cut(strings.TrimSuffix(name, ".service"), "@")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'i':
			b.WriteString(instance)
		case 'I':
			b.WriteString(unescapeUnitName(instance))
		case 'n':
			b.WriteString(name)
		case 'N':
			b.WriteString(strings.TrimSuffix(name, ".service"))
		case 'p':
			b.WriteString(prefix)
		case 'P':
			b.WriteString(unescapeUnitName(prefix))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// unescapeUnitName undoes systemd-escape: "-" stands for "/" and \xNN for
// a byte.
func unescapeUnitName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-':
			b.WriteByte('/')
		case s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x':
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// runningServiceCgroups returns the services whose cgroup holds processes.
// systemd keeps one tree: the root of a cgroup v2 mount, or "unified"
// (hybrid) or "systemd" (legacy v1) beside the controller hierarchies.
// Units sit in their slice (system.slice/ssh.service,
// system.slice/system-getty.slice/getty@tty1.service).
func runningServiceCgroups(base string) map[string]bool {
	out := make(map[string]bool)
	for _, root := range []string{base, base + "/unified", base + "/systemd"} {
		if exists(root + "/system.slice") {
			walkSliceCgroups(root, exists(root+"/cgroup.controllers"), 0, out)
			break
		}
	}
	return out
}

func walkSliceCgroups(dir string, v2 bool, depth int, out map[string]bool) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".slice") && depth < 8:
			walkSliceCgroups(dir+"/"+name, v2, depth+1, out)
		case strings.HasSuffix(name, ".service"):
			if cgroupPopulated(dir+"/"+name, v2) {
				// systemd prefixes names that could clash with cgroup
				// files with "_" (cg_escape).
				out[strings.TrimPrefix(name, "_")] = true
			}
		}
	}
}

// cgroupPopulated reports whether a cgroup or one below it has processes.
// cgroup v2 says so in cgroup.events; v1 needs cgroup.procs read, which
// for a service means its own directory and any sub-cgroups it made.
func cgroupPopulated(dir string, v2 bool) bool {
	if v2 {
		data, _ := os.ReadFile(dir + "/cgroup.events")
		return bytes.Contains(data, []byte("populated 1"))
	}
	if procs, _ := os.ReadFile(dir + "/cgroup.procs"); len(bytes.TrimSpace(procs)) > 0 {
		return true
	}
	children, _ := os.ReadDir(dir)
	for _, c := range children {
		if c.IsDir() && cgroupPopulated(dir+"/"+c.Name(), false) {
			return true
		}
	}
	return false
}
