package policy

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checkKinds are the keys of a check node; exactly one is set.
var checkKinds = []string{"all", "any", "none", "file", "package", "service", "port", "registry", "command", "expr",
	"find", "sysctl", "mount", "kernel_module", "systemd_unit", "apparmor", "selinux", "pam", "sshd", "login_defs", "shadow", "accounts", "setting", "environment"}

// MaxCommandTimeout bounds a command leaf's timeout.
const MaxCommandTimeout = 5 * time.Minute

// registryHives are the prefixes a registry key may start with.
var registryHives = []string{
	"HKLM", "HKEY_LOCAL_MACHINE", "HKCU", "HKEY_CURRENT_USER", "HKCR", "HKEY_CLASSES_ROOT",
	"HKU", "HKEY_USERS", "HKCC", "HKEY_CURRENT_CONFIG",
}

// check decodes one node of a check tree at field path p. platforms are
// the policy's, used to read Windows paths with Windows rules.
func (ps *parser) check(n *yaml.Node, p string, depth int, platforms []string) Check {
	var c Check
	if depth > maxDepth {
		ps.add(n, p, "checks nested more than %d deep", maxDepth)
		return c
	}
	fields := ps.fields(n, p, checkKinds)
	if fields == nil || ps.stop {
		return c
	}
	var kinds []string
	for _, k := range checkKinds {
		if fields[k] != nil {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		if len(ps.deref(n).Content) == 0 { // else its unknown keys were reported
			ps.add(ps.deref(n), p, "empty check: want one of %s", strings.Join(checkKinds, ", "))
		}
		return c
	case 1:
	default:
		ps.add(ps.deref(n), p, "has %s: a check holds exactly one of them (combine with all/any/none)", strings.Join(kinds, " and "))
		return c
	}
	kind := kinds[0]
	v := fields[kind]
	fp := p + "." + kind
	switch kind {
	case "all":
		c.All = ps.children(v, fp, depth, platforms)
	case "any":
		c.Any = ps.children(v, fp, depth, platforms)
	case "none":
		c.None = ps.children(v, fp, depth, platforms)
	case "file":
		c.File = ps.fileCheck(v, fp, platforms)
	case "package":
		c.Package = ps.packageCheck(v, fp)
	case "service":
		c.Service = ps.serviceCheck(v, fp)
	case "port":
		c.Port = ps.portCheck(v, fp)
	case "registry":
		c.Registry = ps.registryCheck(v, fp)
	case "command":
		c.Command = ps.commandCheck(v, fp)
	case "find":
		c.Find = ps.findCheck(v, fp)
	case "sysctl":
		c.Sysctl = ps.sysctlCheck(v, fp)
	case "mount":
		c.Mount = ps.mountCheck(v, fp)
	case "kernel_module":
		c.KernelModule = ps.kernelModuleCheck(v, fp)
	case "systemd_unit":
		c.SystemdUnit = ps.systemdUnitCheck(v, fp)
	case "apparmor":
		c.AppArmor = ps.appArmorCheck(v, fp)
	case "selinux":
		c.SELinux = ps.sELinuxCheck(v, fp)
	case "pam":
		c.PAM = ps.pAMCheck(v, fp)
	case "sshd":
		c.SSHD = ps.sSHDCheck(v, fp)
	case "login_defs":
		c.LoginDefs = ps.loginDefsCheck(v, fp)
	case "accounts":
		c.Accounts = ps.accountsCheck(v, fp)
	case "shadow":
		c.Shadow = ps.shadowCheck(v, fp)
	case "setting":
		c.Setting = ps.settingCheck(v, fp)
	case "environment":
		c.Environment = ps.environmentCheck(v, fp)
	case "expr":
		if s, ok := ps.str(v, fp); ok {
			if err := checkExpr(s); err != nil {
				ps.add(ps.deref(v), fp, "%v", err)
			}
			c.Expr = s
		}
	}
	return c
}

func (ps *parser) children(n *yaml.Node, p string, depth int, platforms []string) []Check {
	n = ps.deref(n)
	if n.Kind != yaml.SequenceNode {
		ps.add(n, p, "must be a list of checks, not %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		ps.add(n, p, "must hold at least one check")
		return nil
	}
	out := make([]Check, 0, len(n.Content))
	for i, item := range n.Content {
		out = append(out, ps.check(item, fmt.Sprintf("%s[%d]", p, i), depth+1, platforms))
		if ps.stop {
			break
		}
	}
	return out
}

func (ps *parser) regex(fields map[string]*yaml.Node, key, p string) string {
	v := fields[key]
	if v == nil {
		return ""
	}
	s, ok := ps.str(v, join(p, key))
	if !ok {
		return ""
	}
	if s == "" {
		ps.add(ps.deref(v), join(p, key), "empty regular expression")
	} else if _, err := regexp.Compile(s); err != nil {
		ps.add(ps.deref(v), join(p, key), "invalid regular expression: %v", err)
	}
	return s
}

func (ps *parser) nonEmpty(fields map[string]*yaml.Node, key, p string) string {
	v := fields[key]
	if v == nil {
		return ""
	}
	s, ok := ps.str(v, join(p, key))
	if ok && strings.TrimSpace(s) == "" {
		ps.add(ps.deref(v), join(p, key), "must not be empty")
	}
	return s
}

func (ps *parser) requiredIn(n *yaml.Node, fields map[string]*yaml.Node, key, p string) string {
	if fields[key] == nil {
		ps.add(ps.deref(n), join(p, key), "required")
		return ""
	}
	return ps.nonEmpty(fields, key, p)
}

func (ps *parser) optBool(fields map[string]*yaml.Node, key, p string) *bool {
	if v := fields[key]; v != nil {
		return ps.boolean(v, join(p, key))
	}
	return nil
}

func (ps *parser) fileCheck(n *yaml.Node, p string, platforms []string) *FileCheck {
	fields := ps.fields(n, p, []string{"path", "exists", "matches", "not_matches", "mode_max", "owner", "group",
		"bits_set", "bits_clear", "suid", "sgid", "sticky", "type"})
	if fields == nil {
		return nil
	}
	f := &FileCheck{Path: ps.requiredIn(n, fields, "path", p)}
	if f.Path != "" {
		if err := checkPathPattern(f.Path, platforms); err != nil {
			ps.add(ps.deref(fields["path"]), p+".path", "%v", err)
		}
	}
	f.Exists = ps.optBool(fields, "exists", p)
	f.Matches = ps.regex(fields, "matches", p)
	f.NotMatches = ps.regex(fields, "not_matches", p)
	f.Owner, f.Owners = ps.names(fields, "owner", p)
	f.Group, f.Groups = ps.names(fields, "group", p)
	mode := func(key string) string {
		v := fields[key]
		if v == nil {
			return ""
		}
		s, ok := ps.str(v, join(p, key))
		if !ok {
			return ""
		}
		if _, err := ParseMode(s); err != nil {
			ps.add(ps.deref(v), join(p, key), "%v", err)
		}
		return s
	}
	f.ModeMax = mode("mode_max")
	f.BitsSet = mode("bits_set")
	f.BitsClear = mode("bits_clear")
	if f.BitsSet != "" && f.BitsClear != "" {
		set, err1 := ParseMode(f.BitsSet)
		clear, err2 := ParseMode(f.BitsClear)
		if err1 == nil && err2 == nil && set&clear != 0 {
			ps.add(ps.deref(fields["bits_clear"]), p+".bits_clear", "bits %04o are in both bits_set and bits_clear", set&clear)
		}
	}
	f.SUID = ps.optBool(fields, "suid", p)
	f.SGID = ps.optBool(fields, "sgid", p)
	f.Sticky = ps.optBool(fields, "sticky", p)
	if v := fields["type"]; v != nil {
		if s, ok := ps.str(v, p+".type"); ok {
			if s != "file" && s != "dir" && s != "symlink" {
				ps.add(ps.deref(v), p+".type", "%q is not file, dir or symlink", s)
			}
			f.Type = s
		}
	}
	keys := []string{"matches", "not_matches", "mode_max", "owner", "group", "bits_set", "bits_clear", "suid", "sgid", "sticky", "type"}
	others := []string{}
	for _, k := range keys {
		if fields[k] != nil {
			others = append(others, k)
		}
	}
	switch {
	case fields["exists"] == nil && len(others) == 0:
		ps.add(ps.deref(n), p, "needs at least one of exists, %s", strings.Join(keys, ", "))
	case f.Exists != nil && !*f.Exists && len(others) > 0:
		ps.add(ps.deref(fields["exists"]), p+".exists", "exists: false cannot be combined with %s", strings.Join(others, ", "))
	}
	return f
}

// names decodes an owner or group key: one name (returned as one) or a
// non-empty list of names (returned as many).
func (ps *parser) names(fields map[string]*yaml.Node, key, p string) (one string, many []string) {
	v := fields[key]
	if v == nil {
		return "", nil
	}
	fp := join(p, key)
	if ps.deref(v).Kind != yaml.SequenceNode {
		return ps.nonEmpty(fields, key, p), nil
	}
	list, ok := ps.strs(v, fp)
	if !ok {
		return "", nil
	}
	if len(list) == 0 {
		ps.add(ps.deref(v), fp, "must name at least one %s", key)
		return "", nil
	}
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			ps.add(ps.deref(v).Content[i], fmt.Sprintf("%s[%d]", fp, i), "must not be empty")
		}
	}
	return "", list
}

// checkPathPattern requires an absolute path and a well-formed glob.
// Windows paths (C:\..., \\server\share) are checked with "\" as the
// separator, so a policy written for Windows validates the same on a Linux
// server.
func checkPathPattern(p string, platforms []string) error {
	windows := isWindowsPath(p)
	if !windows && !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must be absolute (start with / or a drive letter)", p)
	}
	if windows && len(platforms) > 0 && !contains(platforms, "windows") {
		return fmt.Errorf("%q is a Windows path but the policy's platforms do not include windows", p)
	}
	pattern := p
	if windows {
		pattern = strings.ReplaceAll(p, `\`, "/")
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("%q is not a valid glob: %v", p, err)
	}
	return nil
}

func isWindowsPath(p string) bool {
	if strings.HasPrefix(p, `\\`) {
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(('a' <= p[0] && p[0] <= 'z') || ('A' <= p[0] && p[0] <= 'Z'))
}

// ParseMode reads mode_max: octal digits, optionally with a leading 0 or
// 0o ("0644", "644", "0o644"), at most 07777.
func ParseMode(s string) (uint32, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	if t == "" {
		t = "0"
	}
	v, err := strconv.ParseUint(t, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not an octal mode like 0644", s)
	}
	if v > 0o7777 {
		return 0, fmt.Errorf("%q is above 07777", s)
	}
	return uint32(v), nil
}

func (ps *parser) packageCheck(n *yaml.Node, p string) *PackageCheck {
	fields := ps.fields(n, p, []string{"name", "installed", "min_version", "max_version"})
	if fields == nil {
		return nil
	}
	c := &PackageCheck{Name: ps.requiredIn(n, fields, "name", p)}
	if c.Name != "" {
		if _, err := path.Match(strings.ToLower(c.Name), ""); err != nil {
			ps.add(ps.deref(fields["name"]), p+".name", "%q is not a valid name pattern: %v", c.Name, err)
		}
	}
	c.Installed = ps.optBool(fields, "installed", p)
	c.MinVersion = ps.nonEmpty(fields, "min_version", p)
	c.MaxVersion = ps.nonEmpty(fields, "max_version", p)
	if c.Installed != nil && !*c.Installed && (fields["min_version"] != nil || fields["max_version"] != nil) {
		ps.add(ps.deref(fields["installed"]), p+".installed", "installed: false cannot be combined with min_version or max_version")
	}
	return c
}

func (ps *parser) serviceCheck(n *yaml.Node, p string) *ServiceCheck {
	fields := ps.fields(n, p, []string{"name", "running", "enabled"})
	if fields == nil {
		return nil
	}
	c := &ServiceCheck{Name: ps.requiredIn(n, fields, "name", p)}
	c.Running = ps.optBool(fields, "running", p)
	c.Enabled = ps.optBool(fields, "enabled", p)
	if fields["running"] == nil && fields["enabled"] == nil {
		ps.add(ps.deref(n), p, "needs at least one of running, enabled")
	}
	return c
}

func (ps *parser) portCheck(n *yaml.Node, p string) *PortCheck {
	fields := ps.fields(n, p, []string{"listening", "proto"})
	if fields == nil {
		return nil
	}
	c := &PortCheck{}
	if v := fields["listening"]; v == nil {
		ps.add(ps.deref(n), p+".listening", "required")
	} else if port, ok := ps.integer(v, p+".listening"); ok {
		if port < 1 || port > 65535 {
			ps.add(ps.deref(v), p+".listening", "port %d is outside 1..65535", port)
		}
		c.Listening = port
	}
	if v := fields["proto"]; v != nil {
		if s, ok := ps.str(v, p+".proto"); ok {
			if s != "tcp" && s != "udp" {
				ps.add(ps.deref(v), p+".proto", "%q is not tcp or udp", s)
			}
			c.Proto = s
		}
	}
	return c
}

func (ps *parser) registryCheck(n *yaml.Node, p string) *RegistryCheck {
	fields := ps.fields(n, p, []string{"key", "value", "equals", "matches"})
	if fields == nil {
		return nil
	}
	c := &RegistryCheck{Key: ps.requiredIn(n, fields, "key", p)}
	if c.Key != "" && !hasHive(c.Key) {
		ps.add(ps.deref(fields["key"]), p+".key", "%q must start with a hive and a subkey, as in HKLM\\SOFTWARE\\... (hives: %s)", c.Key, strings.Join(registryHives, ", "))
	}
	if v := fields["value"]; v != nil {
		c.Value, _ = ps.str(v, p+".value")
	}
	if v := fields["equals"]; v != nil {
		c.Equals, _ = ps.str(v, p+".equals")
	}
	c.Matches = ps.regex(fields, "matches", p)
	if fields["equals"] != nil && fields["matches"] != nil {
		ps.add(ps.deref(fields["matches"]), p+".matches", "equals and matches are exclusive; give one")
	}
	if (fields["equals"] != nil || fields["matches"] != nil) && strings.TrimSpace(c.Value) == "" {
		ps.add(ps.deref(n), p+".value", "required with equals or matches (the value's name)")
	}
	return c
}

// hasHive reports whether key is HIVE\subkey with a known hive.
func hasHive(key string) bool {
	hive, rest, ok := strings.Cut(key, `\`)
	if !ok || strings.Trim(rest, `\`) == "" {
		return false
	}
	for _, h := range registryHives {
		if strings.EqualFold(hive, h) {
			return true
		}
	}
	return false
}

func (ps *parser) commandCheck(n *yaml.Node, p string) *CommandCheck {
	fields := ps.fields(n, p, []string{"run", "exit_code", "output_matches", "timeout"})
	if fields == nil {
		return nil
	}
	c := &CommandCheck{}
	if v := fields["run"]; v == nil {
		ps.add(ps.deref(n), p+".run", "required")
	} else {
		var ok bool
		c.Run, ok = ps.strs(v, p+".run")
		if ok && len(c.Run) == 0 {
			ps.add(ps.deref(v), p+".run", "must name a program: [program, args...]")
		} else if ok && strings.TrimSpace(c.Run[0]) == "" {
			ps.add(ps.deref(v), p+".run[0]", "program name must not be empty")
		}
	}
	if v := fields["exit_code"]; v != nil {
		if code, ok := ps.integer(v, p+".exit_code"); ok {
			c.ExitCode = &code
		}
	}
	c.OutputMatches = ps.regex(fields, "output_matches", p)
	if v := fields["timeout"]; v != nil {
		if s, ok := ps.str(v, p+".timeout"); ok {
			if _, err := parseTimeout(s); err != nil {
				ps.add(ps.deref(v), p+".timeout", "%v", err)
			}
			c.Timeout = s
		}
	}
	return c
}

// parseTimeout reads a command timeout: a Go duration above zero and at
// most MaxCommandTimeout; "" is the default.
func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return DefaultLeafTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 30s or 2m", s)
	}
	if d <= 0 || d > MaxCommandTimeout {
		return 0, fmt.Errorf("%s is outside (0, %s]", d, MaxCommandTimeout)
	}
	return d, nil
}
