package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// SystemdUnitCheck tests a systemd unit's files and state.
type SystemdUnitCheck struct {
	// Name is the unit; ".service" is added when it has no unit suffix.
	Name    string `json:"name" yaml:"name"`
	Exists  *bool  `json:"exists,omitempty" yaml:"exists,omitempty"`
	Enabled *bool  `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	Masked  *bool  `json:"masked,omitempty" yaml:"masked,omitempty"`
	// Active: running now (live only, .service units, from the inventory).
	Active *bool `json:"active,omitempty" yaml:"active,omitempty"`
}

// unitDirs are systemd's system unit directories, highest priority first.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

var unitSuffixes = []string{".service", ".socket", ".timer", ".mount", ".automount", ".swap", ".target", ".path", ".slice", ".scope", ".device"}

// unitName adds ".service" to a name without a unit suffix.
func unitName(s string) string {
	for _, suf := range unitSuffixes {
		if strings.HasSuffix(s, suf) && len(s) > len(suf) {
			return s
		}
	}
	return s + ".service"
}

func (ps *parser) systemdUnitCheck(n *yaml.Node, p string) *SystemdUnitCheck {
	fields := ps.fields(n, p, []string{"name", "exists", "enabled", "masked", "active"})
	if fields == nil {
		return nil
	}
	c := &SystemdUnitCheck{Name: ps.requiredIn(n, fields, "name", p)}
	if c.Name != "" && (strings.ContainsAny(c.Name, "/ \t*?[") || strings.HasPrefix(c.Name, ".")) {
		ps.add(ps.deref(fields["name"]), p+".name", "%q is not a unit name like nftables or apt-daily.timer", c.Name)
	}
	c.Exists = ps.optBool(fields, "exists", p)
	c.Enabled = ps.optBool(fields, "enabled", p)
	c.Masked = ps.optBool(fields, "masked", p)
	c.Active = ps.optBool(fields, "active", p)
	if c.Exists == nil && c.Enabled == nil && c.Masked == nil && c.Active == nil {
		ps.add(ps.deref(n), p, "needs at least one of exists, enabled, masked, active")
	}
	return c
}

// unitLine is one logical line of a unit file.
type unitLine struct {
	text string
	n    int // line number where it starts
}

// unitLines splits a unit file as systemd reads it: comments ("#" or
// ";" first) skipped, a trailing backslash continues the line.
func unitLines(text string) []unitLine {
	var out []unitLine
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 {
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			start = i + 1
		} else if line != "" && (line[0] == '#' || line[0] == ';') {
			continue // comments inside a continuation are skipped
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

// unitFound is where a unit comes from.
type unitFound struct {
	name     string
	file     string // the unit file that wins (first by directory), "" none
	masked   bool   // file is /dev/null (a link to it) or empty
	maskHow  string
	real     string // the first unit file that is not a mask, "" none
	aliasOf  string // file is a link to another unit's file: its name
	template string // name's template ("getty@.service") when that was used
	sysv     bool   // no unit file: systemd generates the unit from /etc/init.d
}

// findUnit looks up name in unitDirs as systemd does: the first directory
// holding the name wins; an instance ("getty@tty1.service") falls back to
// its template ("getty@.service").
func findUnit(ctx context.Context, env Env, name string) (unitFound, error) {
	u := unitFound{name: name}
	names := []string{name}
	if at := strings.Index(name, "@"); at > 0 && !strings.HasPrefix(name[at:], "@.") {
		u.template = name[:at+1] + name[strings.LastIndex(name, "."):]
		names = append(names, u.template)
	}
	for _, nm := range names {
		for _, dir := range unitDirs {
			p := dir + "/" + nm
			st, err := statEntry(ctx, env, p)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return u, fmt.Errorf("stat %s: %w", p, err)
			}
			if st.Mode.IsDir() {
				continue
			}
			mask, how := isMask(st)
			if u.file == "" {
				u.file, u.masked, u.maskHow = p, mask, how
				if t, ok := linkTarget(ctx, env, p); ok && !mask && path.Base(t) != nm && path.Ext(t) == path.Ext(nm) {
					u.aliasOf = path.Base(t)
				}
			}
			if !mask && u.real == "" {
				u.real = p
			}
		}
		if u.file != "" {
			return u, nil
		}
	}
	// systemd-sysv-generator makes NAME.service from /etc/init.d/NAME
	// when no unit file of that name exists.
	if base, ok := strings.CutSuffix(name, ".service"); ok && !strings.Contains(base, "@") {
		p := "/etc/init.d/" + base
		st, err := env.Stat(ctx, p)
		switch {
		case err == nil && st.Mode.IsRegular():
			u.file, u.real, u.sysv = p, p, true
		case err != nil && !errors.Is(err, ErrNotFound):
			return u, fmt.Errorf("stat %s: %w", p, err)
		}
	}
	return u, nil
}

// unitStatus is what `systemctl is-enabled` would say, and why.
type unitStatus struct {
	state  string // enabled, enabled-runtime, static, disabled, masked, masked-runtime, alias, not-found
	why    string
	linked bool // linked from a .wants/.requires directory or by an alias
}

// reason is why for evidence: "via LINK", or the explanation in parentheses.
func (s unitStatus) reason() string {
	if strings.HasPrefix(s.why, "via ") {
		return s.why
	}
	return "(" + s.why + ")"
}

func (s unitStatus) enabled() bool {
	switch s.state {
	case "enabled", "enabled-runtime":
		return true
	case "static", "alias":
		return s.linked
	}
	return false
}

// unitState works out the unit's enablement from links, mirroring
// systemctl is-enabled: a mask wins; links from .wants/.requires
// directories in /etc make it "enabled", in /run "enabled-runtime"; a
// link shipped in a vendor directory starts it too (shown as "static");
// an alias link in /etc/systemd/system to it also enables it; else
// "disabled" when the unit file has an [Install] section and "static"
// when not.
func unitState(ctx context.Context, env Env, u unitFound) (unitStatus, error) {
	if u.file == "" {
		return unitStatus{state: "not-found", why: "no unit file in " + strings.Join(unitDirs, ", ")}, nil
	}
	if u.masked {
		st := "masked"
		if strings.HasPrefix(u.file, "/run/") {
			st = "masked-runtime"
		}
		return unitStatus{state: st, why: u.file + " is " + u.maskHow}, nil
	}
	if u.sysv {
		// As systemd-sysv-install is-enabled: a start link in a
		// multi-user runlevel's rc directory enables the script.
		base := strings.TrimSuffix(u.name, ".service")
		links, err := env.Glob(ctx, "/etc/rc[2345].d/S[0-9][0-9]"+base)
		if err != nil {
			return unitStatus{}, fmt.Errorf("glob /etc/rc?.d: %w", err)
		}
		if len(links) > 0 {
			return unitStatus{state: "enabled", why: "generated from " + u.file + ", started via " + links[0], linked: true}, nil
		}
		return unitStatus{state: "disabled", why: "generated from " + u.file + ", which no /etc/rc[2-5].d/S* link starts"}, nil
	}
	if u.aliasOf != "" {
		target, err := findUnit(ctx, env, u.aliasOf)
		if err != nil {
			return unitStatus{}, err
		}
		if target.aliasOf == "" { // one level, as systemd refuses alias chains
			ts, err := unitState(ctx, env, target)
			if err != nil {
				return unitStatus{}, err
			}
			return unitStatus{state: "alias", why: fmt.Sprintf("%s links to %s; %s: %s %s", u.file, u.aliasOf, u.aliasOf, ts.state, ts.reason()), linked: ts.enabled()}, nil
		}
	}
	for i, dir := range unitDirs {
		for _, kind := range []string{".wants", ".requires"} {
			links, err := env.Glob(ctx, dir+"/*"+kind+"/"+u.name)
			if err != nil {
				return unitStatus{}, fmt.Errorf("glob %s: %w", dir, err)
			}
			if len(links) == 0 {
				continue
			}
			st := "enabled"
			switch {
			case i == 1:
				st = "enabled-runtime"
			case i > 1:
				st = "static"
			}
			return unitStatus{state: st, why: "via " + links[0], linked: true}, nil
		}
	}
	// Aliases: links in /etc/systemd/system named otherwise that point here.
	if _, ok := env.(LinkEnv); !ok {
		return unitStatus{}, fmt.Errorf("%w: looking for alias links needs symbolic links, which this Env cannot show", ErrUnavailable)
	}
	for _, suf := range []string{path.Ext(u.name)} {
		entries, err := env.Glob(ctx, unitDirs[0]+"/*"+suf)
		if err != nil {
			return unitStatus{}, fmt.Errorf("glob %s: %w", unitDirs[0], err)
		}
		for _, e := range entries {
			if path.Base(e) == u.name {
				continue
			}
			if t, ok := linkTarget(ctx, env, e); ok && path.Base(t) == u.name {
				return unitStatus{state: "enabled", why: "via alias " + e, linked: true}, nil
			}
		}
	}
	file := u.real
	if file == "" {
		file = u.file
	}
	text, err := readConf(ctx, env, file)
	if err != nil {
		return unitStatus{}, err
	}
	for _, l := range unitLines(text) {
		if l.text == "[Install]" {
			return unitStatus{state: "disabled", why: fmt.Sprintf("%s has [Install] at line %d but no link enables it", file, l.n)}, nil
		}
	}
	return unitStatus{state: "static", why: file + " has no [Install] section and no .wants/.requires link"}, nil
}

func systemdUnitLeaf(ctx context.Context, env Env, c *SystemdUnitCheck) (bool, string, error) {
	name := unitName(c.Name)
	var res parts
	if c.Exists != nil || c.Enabled != nil || c.Masked != nil {
		u, err := findUnit(ctx, env, name)
		if err != nil {
			return false, "", err
		}
		if c.Exists != nil {
			d := name + ": no unit file"
			if u.real != "" {
				d = name + ": unit file " + u.real
			} else if u.masked {
				d += " (only the mask " + u.file + ")"
			}
			res.judge((u.real != "") == *c.Exists, d)
		}
		if c.Masked != nil {
			d := name + ": not masked"
			if u.masked {
				d = name + ": masked, " + u.file + " is " + u.maskHow
			}
			res.judge(u.masked == *c.Masked, d)
		}
		if c.Enabled != nil {
			st, err := unitState(ctx, env, u)
			if err != nil {
				return false, "", err
			}
			res.judge(st.enabled() == *c.Enabled, fmt.Sprintf("%s: %s %s", name, st.state, st.reason()))
		}
	}
	if c.Active != nil {
		live, err := runningKernel(ctx, env)
		if err != nil {
			return false, "", err
		}
		if !live {
			res.skip("active")
		} else {
			if !strings.HasSuffix(name, ".service") {
				return false, "", fmt.Errorf("%w: active is known only for .service units (from the service inventory)", ErrUnavailable)
			}
			svcs, err := env.Services(ctx)
			if err != nil {
				return false, "", fmt.Errorf("services: %w", err)
			}
			if len(svcs) == 0 {
				// A running system always has services; none means they
				// were not collected (an image with a /proc of its own).
				return false, "", fmt.Errorf("%w: active needs the service inventory, which is empty", ErrUnavailable)
			}
			state := "not in the service inventory"
			running := false
			for _, s := range svcs {
				if s.Name == name || s.Name+".service" == name {
					state = "state " + s.State
					if s.State == "unknown" {
						return false, "", fmt.Errorf("%s: service state unknown", name)
					}
					running = s.State == "running"
					break
				}
			}
			res.judge(running == *c.Active, fmt.Sprintf("%s: %s", name, state))
		}
	}
	return res.result()
}
