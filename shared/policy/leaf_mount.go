package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MountCheck tests the mount on a path.
type MountCheck struct {
	Path string `json:"path" yaml:"path"`
	// Mounted: true requires a separate mount on exactly Path; false
	// requires none.
	Mounted *bool `json:"mounted,omitempty" yaml:"mounted,omitempty"`
	// Options must all be present on the top mount of Path;
	// WithoutOptions must all be absent.
	Options        []string `json:"options,omitempty" yaml:"options,omitempty"`
	WithoutOptions []string `json:"without_options,omitempty" yaml:"without_options,omitempty"`
}

func (ps *parser) mountCheck(n *yaml.Node, p string) *MountCheck {
	fields := ps.fields(n, p, []string{"path", "mounted", "options", "without_options"})
	if fields == nil {
		return nil
	}
	c := &MountCheck{Path: ps.requiredIn(n, fields, "path", p)}
	if c.Path != "" && (!strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, "*?[")) {
		ps.add(ps.deref(fields["path"]), p+".path", "%q must be an absolute path without globs", c.Path)
	}
	c.Mounted = ps.optBool(fields, "mounted", p)
	opts := func(key string) []string {
		v := fields[key]
		if v == nil {
			return nil
		}
		list, ok := ps.strs(v, p+"."+key)
		if !ok {
			return nil
		}
		if len(list) == 0 {
			ps.add(ps.deref(v), p+"."+key, "must list at least one option")
		}
		for _, o := range list {
			if o == "" || strings.ContainsAny(o, ", \t") {
				ps.add(ps.deref(v), p+"."+key, "%q is not one mount option (write a list: [nodev, nosuid])", o)
			}
		}
		return list
	}
	c.Options = opts("options")
	c.WithoutOptions = opts("without_options")
	if c.Mounted == nil && fields["options"] == nil && fields["without_options"] == nil {
		ps.add(ps.deref(n), p, "needs at least one of mounted, options, without_options")
	}
	if c.Mounted != nil && !*c.Mounted && (fields["options"] != nil || fields["without_options"] != nil) {
		ps.add(ps.deref(fields["mounted"]), p+".mounted", "mounted: false cannot be combined with options or without_options")
	}
	return c
}

// mountEntry is the mount found on a path.
type mountEntry struct {
	fstype  string
	source  string
	options []string // per-mount and super options together
	where   string   // file:line it was read from
	count   int      // mounts stacked on the path (live)
}

// unescapeMount decodes the octal escapes (\040 for a space) that
// /proc/self/mountinfo and /etc/fstab use in paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountinfoTop finds the top mount on mountPoint in a mountinfo text (see
// proc(5)): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] -
// FSTYPE SOURCE SUPEROPTIONS". Mounts are listed in the order they were
// made, so the last line for a mount point is the one on top: the one a
// path lookup reaches. Malformed lines are skipped.
func mountinfoTop(text, file, mountPoint string) *mountEntry {
	var top *mountEntry
	count := 0
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 6 || sep+2 >= len(f) {
			continue
		}
		if unescapeMount(f[4]) != mountPoint {
			continue
		}
		count++
		// Per-mount options, then the file system's own (super)
		// options, each once: "rw" is in both lists.
		var opts []string
		lists := []string{f[5]}
		if sep+3 < len(f) {
			lists = append(lists, f[sep+3])
		}
		for _, list := range lists {
			for _, o := range strings.Split(list, ",") {
				if o != "" && !slices.Contains(opts, o) {
					opts = append(opts, o)
				}
			}
		}
		top = &mountEntry{fstype: f[sep+1], source: unescapeMount(f[sep+2]), options: opts, where: fmt.Sprintf("%s:%d", file, i+1)}
	}
	if top != nil {
		top.count = count
	}
	return top
}

// FstabEntry is one entry of an fstab file (fstab(5)).
type FstabEntry struct {
	// Source is the first field as written: a device, UUID=..., LABEL=...,
	// a directory for a bind mount, or a pseudo name such as tmpfs.
	Source string
	// MountPoint is the second field, cleaned ("none" for swap).
	MountPoint string
	FS         string
	// Options as written; "defaults" when the field is absent.
	Options []string
	Line    int
}

// ParseFstab returns the entries of an fstab text in order, the way
// libmount reads the file: fields separated by blanks or tabs, lines whose
// first non-blank is "#" and blank lines skipped, octal escapes (\040 for
// a space) decoded in the first two fields, lines with fewer than three
// fields skipped. The agent's offline inventory and the mount leaf both
// read /etc/fstab through it.
func ParseFstab(text string) []FstabEntry {
	var out []FstabEntry
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		e := FstabEntry{Source: unescapeMount(f[0]), MountPoint: path.Clean(unescapeMount(f[1])), FS: f[2], Options: []string{"defaults"}, Line: i + 1}
		if len(f) >= 4 {
			e.Options = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	return out
}

// FstabMounts returns the entry that is mounted at boot on each mount
// point: entries with noauto are not, and of several entries for one
// mount point the last wins, as a later line of `mount -a` mounts on top
// of an earlier one. Swap entries have no mount point and are left out.
func FstabMounts(entries []FstabEntry) map[string]FstabEntry {
	out := map[string]FstabEntry{}
	for _, e := range entries {
		if e.FS == "swap" || !strings.HasPrefix(e.MountPoint, "/") || slices.Contains(e.Options, "noauto") {
			continue
		}
		out[e.MountPoint] = e
	}
	return out
}

// fstabEntry finds mountPoint in an fstab text (FstabMounts).
func fstabEntry(text, file, mountPoint string) *mountEntry {
	e, ok := FstabMounts(ParseFstab(text))[mountPoint]
	if !ok {
		return nil
	}
	return &mountEntry{fstype: e.FS, source: e.Source, options: e.Options, where: fmt.Sprintf("%s:%d", file, e.Line)}
}

// mountUnitName is systemd's unit name for a mount point
// (systemd-escape --path): "/" is "-.mount", "/var/log" "var-log.mount",
// with "-" and other special bytes as \xNN.
func mountUnitName(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "-.mount"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0, !(c == '_' || c == '.' || c == ':' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'):
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String() + ".mount"
}

// mountUnitEntry reads the [Mount] section of an enabled mount unit.
func mountUnitEntry(ctx context.Context, env Env, unit string, file string) (*mountEntry, error) {
	text, err := readConf(ctx, env, file)
	if err != nil {
		return nil, err
	}
	e := &mountEntry{options: []string{"defaults"}, where: file}
	section := ""
	for _, line := range unitLines(text) {
		if strings.HasPrefix(line.text, "[") {
			section = strings.Trim(line.text, "[]")
			continue
		}
		if section != "Mount" {
			continue
		}
		k, v, ok := strings.Cut(line.text, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "What":
			e.source = strings.TrimSpace(v)
		case "Type":
			e.fstype = strings.TrimSpace(v)
		case "Options":
			e.options = strings.Split(strings.TrimSpace(v), ",")
			e.where = fmt.Sprintf("%s:%d", file, line.n)
		}
	}
	return e, nil
}

// imageMount answers from configuration, mirroring systemd's order: a
// mount unit in /etc/systemd/system or /run/systemd/system overrides the
// unit systemd-fstab-generator makes from /etc/fstab, which overrides a
// vendor unit in /usr/lib or /lib. A unit counts only when enabled.
func imageMount(ctx context.Context, env Env, mp string) (*mountEntry, string, error) {
	unit := mountUnitName(mp)
	u, err := findUnit(ctx, env, unit)
	if err != nil {
		return nil, "", err
	}
	fromUnit := func() (*mountEntry, string, error) {
		st, err := unitState(ctx, env, u)
		if err != nil {
			return nil, "", err
		}
		if !st.enabled() {
			return nil, fmt.Sprintf("%s is %s %s", unit, st.state, st.reason()), nil
		}
		e, err := mountUnitEntry(ctx, env, unit, u.file)
		return e, "", err
	}
	if u.file != "" && !u.masked && (strings.HasPrefix(u.file, "/etc/") || strings.HasPrefix(u.file, "/run/")) {
		return fromUnit()
	}
	text, err := readConf(ctx, env, "/etc/fstab")
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	if e := fstabEntry(text, "/etc/fstab", mp); e != nil {
		return e, "", nil
	}
	if u.file != "" && !u.masked {
		return fromUnit()
	}
	note := "no /etc/fstab entry"
	if u.masked {
		note += "; " + unit + " is masked"
	}
	return nil, note, nil
}

func mountLeaf(ctx context.Context, env Env, c *MountCheck) (bool, string, error) {
	mp := path.Clean(c.Path)
	live, err := runningKernel(ctx, env)
	if err != nil {
		return false, "", err
	}
	var e *mountEntry
	var note, what string
	if live {
		text, err := readConf(ctx, env, "/proc/self/mountinfo")
		if err != nil {
			return false, "", err
		}
		e = mountinfoTop(text, "/proc/self/mountinfo", mp)
		what = "mounted"
	} else {
		if e, note, err = imageMount(ctx, env, mp); err != nil {
			return false, "", err
		}
		what = "configured"
	}
	if e == nil {
		detail := mp + " is not a separate mount"
		if note != "" {
			detail += " (" + note + ")"
		}
		if live {
			detail += " (no entry in /proc/self/mountinfo)"
		}
		if c.Mounted != nil && !*c.Mounted {
			return true, detail, nil
		}
		return false, detail, nil
	}
	desc := fmt.Sprintf("%s %s %s from %s", mp, what, e.fstype, e.where)
	if e.count > 1 {
		desc += fmt.Sprintf(" (top of %d mounts)", e.count)
	}
	if c.Mounted != nil && !*c.Mounted {
		return false, desc, nil
	}
	desc += " options " + strings.Join(e.options, ",")
	var missing, present []string
	for _, o := range c.Options {
		if !slices.Contains(e.options, o) {
			missing = append(missing, o)
		}
	}
	for _, o := range c.WithoutOptions {
		if slices.Contains(e.options, o) {
			present = append(present, o)
		}
	}
	if len(missing) > 0 {
		desc += "; missing " + strings.Join(missing, ",")
	}
	if len(present) > 0 {
		desc += "; has unwanted " + strings.Join(present, ",")
	}
	return len(missing) == 0 && len(present) == 0, desc, nil
}
