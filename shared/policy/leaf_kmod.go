package policy

import (
	"context"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// KernelModuleCheck tests a kernel module: loaded now, and how modprobe
// configuration treats it.
type KernelModuleCheck struct {
	// Name of the module; "-" and "_" are the same, as modprobe treats them.
	Name        string `json:"name" yaml:"name"`
	Loaded      *bool  `json:"loaded,omitempty" yaml:"loaded,omitempty"`
	Disabled    *bool  `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	Blacklisted *bool  `json:"blacklisted,omitempty" yaml:"blacklisted,omitempty"`
}

// modprobeDirs are kmod's configuration directories, highest priority first.
var modprobeDirs = []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"}

// disablingCommands are install commands that make loading do nothing.
var disablingCommands = []string{"/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true"}

func (ps *parser) kernelModuleCheck(n *yaml.Node, p string) *KernelModuleCheck {
	fields := ps.fields(n, p, []string{"name", "loaded", "disabled", "blacklisted"})
	if fields == nil {
		return nil
	}
	c := &KernelModuleCheck{Name: ps.requiredIn(n, fields, "name", p)}
	if c.Name != "" && strings.ContainsAny(c.Name, "/ \t*?[.") {
		ps.add(ps.deref(fields["name"]), p+".name", "%q is not a module name like cramfs or usb_storage", c.Name)
	}
	c.Loaded = ps.optBool(fields, "loaded", p)
	c.Disabled = ps.optBool(fields, "disabled", p)
	c.Blacklisted = ps.optBool(fields, "blacklisted", p)
	if c.Loaded == nil && c.Disabled == nil && c.Blacklisted == nil {
		ps.add(ps.deref(n), p, "needs at least one of loaded, disabled, blacklisted")
	}
	return c
}

// modName normalises a module name as kmod does ("-" to "_").
func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// modprobeConf is what modprobe.d says about one module.
type modprobeConf struct {
	install, installAt string // the first install command and where
	blacklistAt        string // the first blacklist line
	files              int
	ignored            []string // entries that took no part, and why
}

// modprobeFor reads modprobe.d for module name the way kmod does: *.conf
// files of modprobeDirs with same-name masking, in name order; a
// trailing backslash continues a line; "#" starts a comment line. For
// install the first matching command wins (kmod keeps only the first, as
// module-init-tools did); the module name of install is a shell pattern.
func modprobeFor(ctx context.Context, env Env, name string) (modprobeConf, error) {
	var mc modprobeConf
	list, err := dropInFiles(ctx, env, modprobeDirs, "*.conf")
	if err != nil {
		return mc, err
	}
	mc.ignored = list.ignored
	for _, f := range list.files {
		if f.masked {
			continue
		}
		text, err := readConf(ctx, env, f.path)
		if err != nil {
			return mc, err
		}
		mc.files++
		for _, l := range modprobeLines(text) {
			fs := strings.Fields(l.text)
			if len(fs) < 2 {
				continue
			}
			where := fmt.Sprintf("%s:%d", f.path, l.n)
			switch fs[0] {
			case "blacklist":
				if modName(fs[1]) == name && mc.blacklistAt == "" {
					mc.blacklistAt = where
				}
			case "install":
				if len(fs) < 3 || mc.install != "" {
					continue
				}
				if m, err := path.Match(modName(fs[1]), name); err == nil && m {
					mc.install, mc.installAt = strings.Join(fs[2:], " "), where
				}
			}
		}
	}
	return mc, nil
}

// modprobeLines joins continuation lines and drops comments and blanks.
func modprobeLines(text string) []unitLine {
	var out []unitLine
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		if cur.Len() == 0 {
			t := strings.TrimSpace(line)
			if t == "" || t[0] == '#' {
				continue
			}
			start = i + 1
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, unitLine{text: cur.String(), n: start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, unitLine{text: cur.String(), n: start})
	}
	return out
}

func kernelModuleLeaf(ctx context.Context, env Env, c *KernelModuleCheck) (bool, string, error) {
	name := modName(c.Name)
	var res parts
	if c.Loaded != nil {
		live, err := runningKernel(ctx, env)
		if err != nil {
			return false, "", err
		}
		if !live {
			res.skip("loaded")
		} else {
			// A running kernel without /proc/modules has no loadable
			// module support (or hides it): nothing is loaded.
			text, found, err := readOptional(ctx, env, "/proc/modules")
			if err != nil {
				return false, "", err
			}
			loaded := false
			for _, line := range strings.Split(text, "\n") {
				if f := strings.Fields(line); len(f) > 0 && modName(f[0]) == name {
					loaded = true
					break
				}
			}
			d := name + " is not loaded (not in /proc/modules)"
			if !found {
				d = name + " is not loaded (no /proc/modules: no loadable module support)"
			}
			if loaded {
				d = name + " is loaded (in /proc/modules)"
			}
			res.judge(loaded == *c.Loaded, d)
		}
	}
	if c.Disabled != nil || c.Blacklisted != nil {
		mc, err := modprobeFor(ctx, env, name)
		if err != nil {
			return false, "", err
		}
		if c.Disabled != nil {
			disabled := false
			d := "no install command for " + name
			if mc.install != "" {
				first, _, _ := strings.Cut(mc.install, " ")
				for _, dc := range disablingCommands {
					disabled = disabled || first == dc
				}
				d = fmt.Sprintf("install %s %s from %s", name, mc.install, mc.installAt)
				if !disabled {
					d += " (does not disable it)"
				}
			}
			if mc.files == 0 {
				d += " (no modprobe.d file)"
			}
			res.judge(disabled == *c.Disabled, d)
		}
		if c.Blacklisted != nil {
			d := "no blacklist line for " + name
			if mc.blacklistAt != "" {
				d = "blacklist " + name + " at " + mc.blacklistAt
			}
			res.judge((mc.blacklistAt != "") == *c.Blacklisted, d)
		}
		for _, ig := range limitList(mc.ignored, 5) {
			res.note(ig)
		}
	}
	return res.result()
}
