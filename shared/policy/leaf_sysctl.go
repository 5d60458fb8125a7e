package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// SysctlCheck tests a kernel parameter: its running value in /proc/sys
// and the value systemd-sysctl would apply at boot.
type SysctlCheck struct {
	// Key in dotted (net.ipv4.ip_forward) or slashed (net/ipv4/ip_forward) form.
	Key string `json:"key" yaml:"key"`
	// Runtime and Persisted select the sources checked (both by default).
	Runtime   *bool `json:"runtime,omitempty" yaml:"runtime,omitempty"`
	Persisted *bool `json:"persisted,omitempty" yaml:"persisted,omitempty"`
	ValueTest `yaml:",inline"`
}

// sysctlDirs are systemd-sysctl's configuration directories, highest
// priority first.
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

func (ps *parser) sysctlCheck(n *yaml.Node, p string) *SysctlCheck {
	fields := ps.fields(n, p, append([]string{"key", "runtime", "persisted"}, valueTestKeys...))
	if fields == nil {
		return nil
	}
	c := &SysctlCheck{Key: ps.requiredIn(n, fields, "key", p)}
	if k := strings.TrimSpace(c.Key); k != "" {
		switch {
		case strings.ContainsAny(k, "*?[]\\"):
			ps.add(ps.deref(fields["key"]), p+".key", "%q: a key names one setting; globs are not allowed here", c.Key)
		case strings.ContainsAny(k, " \t=") || strings.HasPrefix(k, "/") || strings.HasPrefix(k, ".") ||
			strings.HasSuffix(k, ".") || strings.HasSuffix(k, "/") || strings.Contains(k, "..") || strings.Contains(k, "//"):
			ps.add(ps.deref(fields["key"]), p+".key", "%q is not a sysctl key like net.ipv4.ip_forward", c.Key)
		}
	}
	c.Runtime = ps.optBool(fields, "runtime", p)
	c.Persisted = ps.optBool(fields, "persisted", p)
	c.ValueTest = ps.valueTest(fields, p)
	if c.Runtime != nil && !*c.Runtime && c.Persisted != nil && !*c.Persisted {
		ps.add(ps.deref(fields["persisted"]), p+".persisted", "runtime and persisted are both false: nothing to check")
	}
	if c.ValueTest.Empty() {
		ps.add(ps.deref(n), p, "needs a value test (one of %s)", strings.Join(valueTestKeys, ", "))
	}
	return c
}

// sysctlNormalize returns a key in /proc/sys path form, as systemd's
// sysctl_normalize does: when the first separator is "." the dots are
// separators and any "/" is a literal dot in a name (a VLAN interface
// "eth0.100" written net.ipv4.conf.eth0/100.rp_filter); when it is "/"
// the key is already a path.
func sysctlNormalize(key string) string {
	key = strings.TrimSpace(key)
	i := strings.IndexAny(key, "./")
	if i < 0 || key[i] == '/' {
		return strings.Trim(key, "/")
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, key)
}

// sysctlAssign is one assignment read from a sysctl.d file.
type sysctlAssign struct {
	value string
	where string // file:line
}

// normSpace collapses runs of whitespace to one space, so that the
// tab-separated /proc/sys/net/ipv4/tcp_rmem and a configured
// "4096 131072  6291456" compare equal.
func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// sysctlPersisted finds the value systemd-sysctl would apply at boot for
// key (normalised), mirroring systemd-sysctl: files from sysctlDirs with
// same-name masking, processed in name order; later assignments override
// earlier ones; a line "-key" without "=" excludes that key from globs;
// an explicit key beats any glob pattern matching it
// whatever their order (systemd applies a glob only to keys without an
// explicit assignment); a leading "-" only ignores write failures.
// /etc/sysctl.conf takes part only through a sysctl.d entry that links
// to it (Debian's /etc/sysctl.d/99-sysctl.conf), as systemd-sysctl reads
// nothing else. It returns the winning assignment, the one it overrode,
// the files read and the drop-in entries that took no part.
func sysctlPersisted(ctx context.Context, env Env, key string) (sysctlFound, error) {
	list, err := dropInFiles(ctx, env, sysctlDirs, "*.conf")
	if err != nil {
		return sysctlFound{}, err
	}
	var win, prev, globWin, globPrev *sysctlAssign
	var files []string
	excluded := false
	for _, f := range list.files {
		if f.masked {
			continue
		}
		shown := f.path
		if t, ok := linkTarget(ctx, env, f.path); ok {
			shown = t
		}
		text, err := readConf(ctx, env, f.path)
		if err != nil {
			return sysctlFound{}, err
		}
		files = append(files, shown)
		for i, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				// "-key" alone keeps globs off that key; any other line
				// without "=" is not an assignment and is skipped, as
				// systemd-sysctl does with a warning.
				if x, isX := strings.CutPrefix(line, "-"); isX && sysctlNormalize(x) == key {
					excluded = true
				}
				continue
			}
			k = strings.TrimPrefix(strings.TrimSpace(k), "-")
			a := &sysctlAssign{value: normSpace(v), where: fmt.Sprintf("%s:%d", shown, i+1)}
			nk := sysctlNormalize(k)
			if strings.ContainsAny(nk, "*?[") {
				if m, err := path.Match(nk, key); err == nil && m {
					globPrev, globWin = globWin, a
				}
				continue
			}
			if nk == key {
				prev, win = win, a
			}
		}
	}
	if win == nil && !excluded {
		win, prev = globWin, globPrev
	}
	return sysctlFound{win: win, prev: prev, files: files, ignored: list.ignored}, nil
}

// sysctlFound is what sysctlPersisted found for one key.
type sysctlFound struct {
	win, prev *sysctlAssign // the winning assignment and the one it overrode
	files     []string      // files read, in order
	ignored   []string      // drop-in entries that took no part, and why
}

func sysctlLeaf(ctx context.Context, env Env, c *SysctlCheck) (bool, string, error) {
	key := sysctlNormalize(c.Key)
	live, err := runningKernel(ctx, env)
	if err != nil {
		return false, "", err
	}
	var res parts
	if c.Runtime == nil || *c.Runtime {
		if !live {
			res.skip("running")
		} else {
			var got *string
			data, err := env.ReadFile(ctx, "/proc/sys/"+key, 1<<16)
			switch {
			case err == nil:
				s := normSpace(string(data))
				got = &s
			case errors.Is(err, ErrNotFound):
				// No such key in this kernel (module not loaded, IPv6 off): not set.
			default:
				return false, "", fmt.Errorf("read /proc/sys/%s: %w", key, err)
			}
			ok, d, err := c.ValueTest.Test(ctx, got)
			if err != nil {
				return false, "", err
			}
			if got == nil {
				d += " in /proc/sys/" + key
			}
			res.judge(ok, "running "+d)
		}
	}
	if c.Persisted == nil || *c.Persisted {
		found, err := sysctlPersisted(ctx, env, key)
		if err != nil {
			return false, "", err
		}
		win, prev, files := found.win, found.prev, found.files
		var got *string
		if win != nil {
			got = &win.value
		}
		ok, d, err := c.ValueTest.Test(ctx, got)
		if err != nil {
			return false, "", err
		}
		switch {
		case win == nil && len(files) == 0:
			d += " (no sysctl.d file)"
		case win == nil:
			d += " in " + listPaths(files)
		default:
			d += " from " + win.where
			if prev != nil {
				d += " (overrides " + prev.where + ")"
			}
		}
		res.judge(ok, "persisted "+d)
		for _, ig := range limitList(found.ignored, 5) {
			res.note(ig)
		}
	}
	return res.result()
}
