package policy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// AppArmorCheck tests AppArmor: the kernel module enabled, and the loaded
// profiles' modes.
type AppArmorCheck struct {
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	// Profiles: "enforce" (every loaded profile enforces) or
	// "enforce_or_complain" (none is unconfined, kill or another mode).
	Profiles    string `json:"profiles,omitempty" yaml:"profiles,omitempty"`
	MinProfiles *int   `json:"min_profiles,omitempty" yaml:"min_profiles,omitempty"`
}

// SELinuxCheck tests SELinux: running and configured state, and policy.
type SELinuxCheck struct {
	// State: enforcing, permissive or disabled; the running and configured
	// states must both be at least this strict.
	State string `json:"state,omitempty" yaml:"state,omitempty"`
	// Policy is the configured SELINUXTYPE.
	Policy string `json:"policy,omitempty" yaml:"policy,omitempty"`
}

var appArmorProfileModes = []string{"enforce", "enforce_or_complain"}

// selinuxStates, least strict first.
var selinuxStates = []string{"disabled", "permissive", "enforcing"}

func (ps *parser) appArmorCheck(n *yaml.Node, p string) *AppArmorCheck {
	fields := ps.fields(n, p, []string{"enabled", "profiles", "min_profiles"})
	if fields == nil {
		return nil
	}
	c := &AppArmorCheck{Enabled: ps.optBool(fields, "enabled", p)}
	if v := fields["profiles"]; v != nil {
		if s, ok := ps.str(v, p+".profiles"); ok {
			if !slices.Contains(appArmorProfileModes, s) {
				ps.add(ps.deref(v), p+".profiles", "%q is not one of %s", s, strings.Join(appArmorProfileModes, ", "))
			}
			c.Profiles = s
		}
	}
	if v := fields["min_profiles"]; v != nil {
		if k, ok := ps.integer(v, p+".min_profiles"); ok {
			if k < 0 {
				ps.add(ps.deref(v), p+".min_profiles", "must not be negative")
			}
			c.MinProfiles = &k
		}
	}
	if len(fields) == 0 {
		ps.add(ps.deref(n), p, "needs at least one of enabled, profiles, min_profiles")
	}
	return c
}

func (ps *parser) sELinuxCheck(n *yaml.Node, p string) *SELinuxCheck {
	fields := ps.fields(n, p, []string{"state", "policy"})
	if fields == nil {
		return nil
	}
	c := &SELinuxCheck{Policy: ps.nonEmpty(fields, "policy", p)}
	if v := fields["state"]; v != nil {
		if s, ok := ps.str(v, p+".state"); ok {
			if !slices.Contains(selinuxStates, s) {
				ps.add(ps.deref(v), p+".state", "%q is not one of %s", s, strings.Join(selinuxStates, ", "))
			}
			c.State = s
		}
	}
	if len(fields) == 0 {
		ps.add(ps.deref(n), p, "needs at least one of state, policy")
	}
	return c
}

// readOptional reads a small file; a missing file is ("", false, nil).
func readOptional(ctx context.Context, env Env, p string) (string, bool, error) {
	data, err := env.ReadFile(ctx, p, maxConfBytes)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if errors.Is(err, ErrFileTooLarge) {
		return "", false, fmt.Errorf("%s: file too large (over %d bytes)", p, maxConfBytes)
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", p, err)
	}
	return string(data), true, nil
}

var grubCmdline = regexp.MustCompile(`^\s*(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(.*)$`)

// bootParams collects the kernel command-line words an image boots with:
// from /etc/default/grub (GRUB_CMDLINE_LINUX and _DEFAULT, quotes
// removed) and the linux lines of /boot/grub/grub.cfg. Each word comes
// with where it was found.
func bootParams(ctx context.Context, env Env) ([][2]string, error) {
	var words [][2]string
	add := func(w, where string) { words = append(words, [2]string{w, where}) }
	text, _, err := readOptional(ctx, env, "/etc/default/grub")
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(text, "\n") {
		if m := grubCmdline.FindStringSubmatch(line); m != nil {
			for _, w := range strings.Fields(strings.Trim(strings.TrimSpace(m[2]), `"'`)) {
				add(w, fmt.Sprintf("/etc/default/grub:%d", i+1))
			}
		}
	}
	text, _, err = readOptional(ctx, env, "/boot/grub/grub.cfg")
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && (f[0] == "linux" || f[0] == "linuxefi") {
			for _, w := range f[2:] {
				add(w, fmt.Sprintf("/boot/grub/grub.cfg:%d", i+1))
			}
		}
	}
	return words, nil
}

// appArmorImageEnabled decides from an image's files whether AppArmor
// would be on at boot: Debian's kernels enable it by default, so it is on
// unless the boot command line says apparmor=0 or picks another LSM with
// security=, and provided the apparmor package's parser is installed
// (without it no profile is ever loaded).
func appArmorImageEnabled(ctx context.Context, env Env) (bool, string, error) {
	words, err := bootParams(ctx, env)
	if err != nil {
		return false, "", err
	}
	for _, ww := range words {
		w, where := ww[0], ww[1]
		if w == "apparmor=0" {
			return false, "apparmor=0 on the boot command line at " + where, nil
		}
		if v, ok := strings.CutPrefix(w, "security="); ok && v != "apparmor" && v != "" {
			return false, w + " on the boot command line at " + where, nil
		}
	}
	for _, p := range []string{"/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
		if _, err := env.Stat(ctx, p); err == nil {
			return true, "not disabled on the boot command line; " + p + " installed", nil
		} else if !errors.Is(err, ErrNotFound) {
			return false, "", fmt.Errorf("stat %s: %w", p, err)
		}
	}
	return false, "apparmor_parser is not installed (package apparmor), so no profile is loaded at boot", nil
}

func appArmorLeaf(ctx context.Context, env Env, c *AppArmorCheck) (bool, string, error) {
	live, err := runningKernel(ctx, env)
	if err != nil {
		return false, "", err
	}
	var res parts
	if c.Enabled != nil {
		if live {
			text, found, err := readOptional(ctx, env, "/sys/module/apparmor/parameters/enabled")
			if err != nil {
				return false, "", err
			}
			on := found && strings.TrimSpace(text) == "Y"
			d := "AppArmor enabled (/sys/module/apparmor/parameters/enabled is Y)"
			switch {
			case !found:
				d = "AppArmor not in the running kernel (no /sys/module/apparmor)"
			case !on:
				d = fmt.Sprintf("AppArmor disabled (/sys/module/apparmor/parameters/enabled is %q)", strings.TrimSpace(text))
			}
			res.judge(on == *c.Enabled, d)
		} else {
			on, why, err := appArmorImageEnabled(ctx, env)
			if err != nil {
				return false, "", err
			}
			state := "disabled at boot: "
			if on {
				state = "enabled at boot: "
			}
			res.judge(on == *c.Enabled, "AppArmor "+state+why)
		}
	}
	if c.Profiles != "" || c.MinProfiles != nil {
		if !live {
			res.skip("profiles")
		} else {
			const file = "/sys/kernel/security/apparmor/profiles"
			text, found, err := readOptional(ctx, env, file)
			if err != nil {
				return false, "", err
			}
			if !found {
				return false, "", fmt.Errorf("%s not found: AppArmor is off or securityfs is not mounted", file)
			}
			modes := map[string]int{}
			var bad []string
			total := 0
			for _, line := range strings.Split(text, "\n") {
				line = strings.TrimSpace(line)
				open := strings.LastIndex(line, " (")
				if open < 0 || !strings.HasSuffix(line, ")") {
					continue
				}
				mode := line[open+2 : len(line)-1]
				total++
				modes[mode]++
				ok := mode == "enforce" || (c.Profiles == "enforce_or_complain" && mode == "complain")
				if c.Profiles != "" && !ok && len(bad) < 5 {
					bad = append(bad, fmt.Sprintf("%s (%s)", line[:open], mode))
				}
			}
			var counts []string
			for _, m := range []string{"enforce", "complain", "kill", "unconfined", "prompt"} {
				if modes[m] > 0 {
					counts = append(counts, fmt.Sprintf("%d %s", modes[m], m))
				}
			}
			d := fmt.Sprintf("%d profiles loaded", total)
			if len(counts) > 0 {
				d += " (" + strings.Join(counts, ", ") + ")"
			}
			ok := len(bad) == 0
			if !ok {
				d += "; not " + c.Profiles + ": " + strings.Join(bad, ", ")
			}
			if c.MinProfiles != nil && total < *c.MinProfiles {
				ok = false
				d += fmt.Sprintf("; want at least %d", *c.MinProfiles)
			}
			res.judge(ok, d)
		}
	}
	return res.result()
}

// selinuxConfig reads /etc/selinux/config as libselinux does: the first
// SELINUX= and SELINUXTYPE= lines count.
func selinuxConfig(ctx context.Context, env Env) (state, stateAt, policy, policyAt string, err error) {
	const file = "/etc/selinux/config"
	text, found, err := readOptional(ctx, env, file)
	if err != nil || !found {
		return "", "", "", "", err
	}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if !ok || line[0] == '#' {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.TrimSpace(k) {
		case "SELINUX":
			if stateAt == "" {
				state, stateAt = strings.ToLower(v), fmt.Sprintf("%s:%d", file, i+1)
			}
		case "SELINUXTYPE":
			if policyAt == "" {
				policy, policyAt = v, fmt.Sprintf("%s:%d", file, i+1)
			}
		}
	}
	return state, stateAt, policy, policyAt, nil
}

func sELinuxLeaf(ctx context.Context, env Env, c *SELinuxCheck) (bool, string, error) {
	live, err := runningKernel(ctx, env)
	if err != nil {
		return false, "", err
	}
	state, stateAt, policy, policyAt, err := selinuxConfig(ctx, env)
	if err != nil {
		return false, "", err
	}
	var res parts
	if c.State != "" {
		want := slices.Index(selinuxStates, c.State)
		if live {
			text, found, err := readOptional(ctx, env, "/sys/fs/selinux/enforce")
			if err != nil {
				return false, "", err
			}
			run := "disabled"
			switch strings.TrimSpace(text) {
			case "1":
				run = "enforcing"
			case "0":
				run = "permissive"
			}
			d := "running " + run + " (/sys/fs/selinux/enforce)"
			if !found {
				d = "running disabled (no /sys/fs/selinux/enforce)"
			}
			res.judge(slices.Index(selinuxStates, run) >= want, d+", want at least "+c.State)
		} else {
			res.skip("running state")
		}
		conf, d := state, "configured "+state+" at "+stateAt
		if stateAt == "" {
			conf, d = "disabled", "configured disabled (no SELINUX= in /etc/selinux/config)"
		}
		res.judge(slices.Index(selinuxStates, conf) >= want, d+", want at least "+c.State)
	}
	if c.Policy != "" {
		d := "no SELINUXTYPE= in /etc/selinux/config"
		if policyAt != "" {
			d = fmt.Sprintf("policy %q at %s", policy, policyAt)
		}
		res.judge(policyAt != "" && policy == c.Policy, d+fmt.Sprintf(", want %q", c.Policy))
	}
	return res.result()
}
