package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SettingCheck is the setting leaf: one setting of a configuration file
// (and its drop-ins), read with the precedence rules of Format, and judged
// by the embedded ValueTest.
type SettingCheck struct {
	// Format selects parsing and precedence: keyvalue, systemd, sudoers,
	// shell, limits or directive (see docs/policies.md).
	Format string `json:"format" yaml:"format"`
	// Path is the main file.
	Path string `json:"path" yaml:"path"`
	// Dropins are globs read after the main file (before it with
	// DropinsFirst), each glob's matches in name order.
	Dropins []string `json:"dropins,omitempty" yaml:"dropins,omitempty"`
	// DropinsFirst (keyvalue) reads the drop-ins before the main file,
	// as libpwquality does, so the main file has the last word.
	DropinsFirst bool `json:"dropins_first,omitempty" yaml:"dropins_first,omitempty"`
	// Section (systemd) is the [Section] the key belongs to.
	Section string `json:"section,omitempty" yaml:"section,omitempty"`
	// Key is the setting: a key, a sudoers Defaults parameter, a shell
	// variable or "umask", "domain type item" (limits), or a directive's
	// first word.
	Key string `json:"key,omitempty" yaml:"key,omitempty"`
	// IgnoreCase (keyvalue) matches Key without regard to case.
	IgnoreCase bool `json:"ignore_case,omitempty" yaml:"ignore_case,omitempty"`
	// List (systemd) makes the value every assignment since the last empty
	// one, joined by spaces (NTP=, FallbackNTP=).
	List bool `json:"list,omitempty" yaml:"list,omitempty"`
	// Tag (sudoers) counts the user specifications carrying a tag
	// (NOPASSWD, ...); the count is the value judged.
	Tag string `json:"tag,omitempty" yaml:"tag,omitempty"`
	// Scope (sudoers) is "global" (only unscoped Defaults count; the
	// default) or "any" (every Defaults line, scoped or not, is judged).
	Scope string `json:"scope,omitempty" yaml:"scope,omitempty"`
	// Match (shell, directive, sudoers scope any) is "all" (every
	// occurrence must pass; the default) or "any".
	Match string `json:"match,omitempty" yaml:"match,omitempty"`
	// Readonly and Export (shell) require the variable to be marked
	// readonly / exported somewhere (true) or nowhere (false).
	Readonly  *bool `json:"readonly,omitempty" yaml:"readonly,omitempty"`
	Export    *bool `json:"export,omitempty" yaml:"export,omitempty"`
	ValueTest `yaml:",inline"`
}

// Setting formats.
const (
	settingKeyValue = "keyvalue"
	settingSystemd  = "systemd"
	settingSudoers  = "sudoers"
	settingShell    = "shell"
	settingLimits   = "limits"
	settingDirect   = "directive"
)

var settingFormats = []string{settingKeyValue, settingSystemd, settingSudoers, settingShell, settingLimits, settingDirect}

// sudoTags are the tags a sudoers user specification may carry.
var sudoTags = []string{"NOPASSWD", "PASSWD", "NOEXEC", "EXEC", "SETENV", "NOSETENV", "LOG_INPUT", "NOLOG_INPUT",
	"LOG_OUTPUT", "NOLOG_OUTPUT", "MAIL", "NOMAIL", "FOLLOW", "NOFOLLOW", "INTERCEPT", "NOINTERCEPT"}

// shellName is a shell variable name.
var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (ps *parser) settingCheck(n *yaml.Node, p string) *SettingCheck {
	keys := append([]string{"format", "path", "dropins", "dropins_first", "section", "key", "ignore_case", "list",
		"tag", "scope", "match", "readonly", "export"}, valueTestKeys...)
	fields := ps.fields(n, p, keys)
	if fields == nil {
		return nil
	}
	c := &SettingCheck{}
	c.Format = ps.requiredIn(n, fields, "format", p)
	if c.Format != "" && !contains(settingFormats, c.Format) {
		ps.add(ps.deref(fields["format"]), p+".format", "unknown format %q (known: %s)", c.Format, strings.Join(settingFormats, ", "))
	}
	c.Path = ps.requiredIn(n, fields, "path", p)
	if c.Path != "" {
		switch {
		case !strings.HasPrefix(c.Path, "/"):
			ps.add(ps.deref(fields["path"]), p+".path", "%q must be absolute", c.Path)
		case strings.ContainsAny(c.Path, "*?["):
			ps.add(ps.deref(fields["path"]), p+".path", "%q: path names one file, not a glob (put globs in dropins)", c.Path)
		}
	}
	if v := fields["dropins"]; v != nil {
		dv := ps.deref(v)
		if dv.Kind == yaml.ScalarNode {
			if s, ok := ps.str(v, p+".dropins"); ok {
				c.Dropins = []string{s}
			}
		} else {
			c.Dropins, _ = ps.strs(v, p+".dropins")
			if c.Dropins != nil && len(c.Dropins) == 0 {
				ps.add(dv, p+".dropins", "must list at least one glob")
			}
		}
		for _, g := range c.Dropins {
			if err := checkPathPattern(g, []string{"linux"}); err != nil {
				ps.add(dv, p+".dropins", "%v", err)
			}
		}
	}
	boolField := func(key string) bool {
		if b := ps.optBool(fields, key, p); b != nil {
			return *b
		}
		return false
	}
	c.DropinsFirst = boolField("dropins_first")
	c.IgnoreCase = boolField("ignore_case")
	c.List = boolField("list")
	c.Section = ps.nonEmpty(fields, "section", p)
	c.Key = ps.nonEmpty(fields, "key", p)
	c.Tag = ps.nonEmpty(fields, "tag", p)
	oneOf := func(key string, allowed ...string) string {
		s := ps.nonEmpty(fields, key, p)
		if s != "" && !contains(allowed, s) {
			ps.add(ps.deref(fields[key]), p+"."+key, "%q is not one of %s", s, strings.Join(allowed, ", "))
		}
		return s
	}
	c.Scope = oneOf("scope", "global", "any")
	c.Match = oneOf("match", "all", "any")
	c.Readonly = ps.optBool(fields, "readonly", p)
	c.Export = ps.optBool(fields, "export", p)
	c.ValueTest = ps.valueTest(fields, p)

	// Keys that only some formats take.
	only := func(key string, formats ...string) {
		if fields[key] != nil && c.Format != "" && !contains(formats, c.Format) {
			ps.add(ps.deref(fields[key]), p+"."+key, "%s applies only to format %s, not %s", key, strings.Join(formats, " or "), c.Format)
		}
	}
	only("section", settingSystemd)
	only("list", settingSystemd)
	only("dropins_first", settingKeyValue)
	only("ignore_case", settingKeyValue)
	only("tag", settingSudoers)
	only("scope", settingSudoers)
	only("match", settingShell, settingDirect, settingSudoers)
	only("readonly", settingShell)
	only("export", settingShell)
	only("dropins", settingKeyValue, settingSystemd, settingShell, settingLimits, settingDirect)

	switch {
	case c.Format == settingSudoers && fields["tag"] != nil:
		if fields["key"] != nil {
			ps.add(ps.deref(fields["tag"]), p+".tag", "key and tag are exclusive: key reads a Defaults parameter, tag counts rules")
		}
		if c.Tag != "" && !contains(sudoTags, c.Tag) {
			ps.add(ps.deref(fields["tag"]), p+".tag", "%q is not a sudoers tag (known: %s)", c.Tag, strings.Join(sudoTags, ", "))
		}
		if fields["scope"] != nil || fields["match"] != nil {
			ps.add(ps.deref(n), p, "scope and match do not apply to tag (its value is a count)")
		}
	case fields["key"] == nil:
		if c.Format == settingSudoers {
			ps.add(ps.deref(n), p+".key", "required (or tag)")
		} else {
			ps.add(ps.deref(n), p+".key", "required")
		}
	}
	if c.Format == settingSudoers && fields["match"] != nil && c.Scope != "any" {
		ps.add(ps.deref(fields["match"]), p+".match", "match applies to sudoers only with scope: any (the global value is one value)")
	}
	if c.Format == settingSystemd && fields["section"] == nil {
		ps.add(ps.deref(n), p+".section", "required for format systemd (assignments outside a section are ignored)")
	}
	if c.Section != "" && strings.ContainsAny(c.Section, "[]") {
		ps.add(ps.deref(fields["section"]), p+".section", "%q: give the section name without brackets", c.Section)
	}
	if c.Key != "" {
		kn := ps.deref(fields["key"])
		switch c.Format {
		case settingLimits:
			f := strings.Fields(c.Key)
			if len(f) != 3 {
				ps.add(kn, p+".key", "%q: want \"<domain> <type> <item>\" as in \"* hard core\"", c.Key)
			} else if !contains([]string{"soft", "hard", "-"}, f[1]) {
				ps.add(kn, p+".key", "%q: type %q is not soft, hard or -", c.Key, f[1])
			}
		case settingShell:
			if c.Key != "umask" && !shellName.MatchString(c.Key) {
				ps.add(kn, p+".key", "%q is not a shell variable name or umask", c.Key)
			}
			if c.Key == "umask" && (c.Readonly != nil || c.Export != nil) {
				ps.add(kn, p+".key", "readonly and export apply to variables, not umask")
			}
		case settingSudoers:
			if strings.HasPrefix(c.Key, "!") {
				ps.add(kn, p+".key", "%q: name the parameter without \"!\" (a negated flag reads as \"false\")", c.Key)
			}
			if strings.ContainsAny(c.Key, " \t=,") {
				ps.add(kn, p+".key", "%q is not a Defaults parameter name", c.Key)
			}
		default:
			if strings.ContainsAny(c.Key, " \t=") && c.Format != settingDirect {
				ps.add(kn, p+".key", "%q: a key holds no spaces or =", c.Key)
			}
			if c.Format == settingDirect && strings.ContainsAny(c.Key, " \t(") {
				ps.add(kn, p+".key", "%q: a directive is one word (the rest of the line is its value)", c.Key)
			}
		}
	}
	if c.ValueTest.Empty() && c.Readonly == nil && c.Export == nil {
		ps.add(ps.deref(n), p, "needs a test: one of %s", strings.Join(valueTestKeys, ", "))
	}
	return c
}

// settingAssign is one assignment of the setting found in a file. A nil
// value is a reset (systemd's empty assignment).
type settingAssign struct {
	value *string
	file  string
	line  int
	note  string // "Defaults:alice" for scoped sudoers lines
}

func (a settingAssign) where() string { return fmt.Sprintf("%s:%d", a.file, a.line) }

// settingRead is what a format's reader gathered.
type settingRead struct {
	assigns []settingAssign
	read    []string // files read, in order
	notes   []string // missing files, masked drop-ins, scoped lines, ...
	// shell attributes
	readonlyAt, exportAt []string
}

// maxSettingFiles bounds the files one setting leaf reads (includes and
// drop-ins together).
const maxSettingFiles = 1000

// settingReader reads files for one leaf evaluation.
type settingReader struct {
	ctx context.Context
	env Env
	out settingRead
	n   int
}

// read returns the file's content; a missing file is noted and returns
// nil data with no error.
func (r *settingReader) read(p string) ([]byte, error) {
	if r.n++; r.n > maxSettingFiles {
		return nil, fmt.Errorf("more than %d files to read", maxSettingFiles)
	}
	data, err := r.env.ReadFile(r.ctx, p, MaxFileBytes)
	switch {
	case errors.Is(err, ErrNotFound):
		r.out.notes = append(r.out.notes, p+" does not exist")
		return nil, nil
	case errors.Is(err, ErrFileTooLarge):
		return nil, fmt.Errorf("%s: file too large (over %d bytes)", p, MaxFileBytes)
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	r.out.read = append(r.out.read, p)
	return data, nil
}

// regular reports whether p is a regular file (following links); missing
// files and other types are noted and skipped.
func (r *settingReader) regular(p string) (bool, error) {
	st, err := r.env.Stat(r.ctx, p)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", p, err)
	}
	return st.Mode.IsRegular(), nil
}

// globFiles expands drop-in globs, each in name order, keeping regular
// files only.
func (r *settingReader) globFiles(globs []string) ([]string, error) {
	var out []string
	for _, g := range globs {
		matches, err := r.env.Glob(r.ctx, g)
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", g, err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			ok, err := r.regular(m)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// lines splits data into lines without their terminators.
func lines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// settingLeaf reads the setting as its format says and judges it.
func settingLeaf(ctx context.Context, env Env, c *SettingCheck) (bool, string, error) {
	r := &settingReader{ctx: ctx, env: env}
	var err error
	switch c.Format {
	case settingKeyValue:
		err = r.keyValue(c)
	case settingSystemd:
		err = r.systemd(c)
	case settingSudoers:
		err = r.sudoers(c)
	case settingShell:
		err = r.shell(c)
	case settingLimits:
		err = r.limits(c)
	case settingDirect:
		err = r.directive(c)
	default:
		err = fmt.Errorf("unknown format %q", c.Format)
	}
	if err != nil {
		return false, "", err
	}
	name := c.Key
	if c.Section != "" {
		name = "[" + c.Section + "] " + c.Key
	}
	if c.Format == settingSudoers && c.Tag != "" {
		name = "rules tagged " + c.Tag
	}
	quote := !secretKey.MatchString(c.Key) || (len(r.out.read) > 0 && mayQuote(env, ContentFile, r.out.read[0], nil))
	var ok bool
	var detail string
	switch {
	case c.Format == settingShell || c.Format == settingDirect || (c.Format == settingSudoers && c.Scope == "any" && c.Tag == ""):
		ok, detail, err = judgeEach(ctx, c, name, r.out.assigns, quote)
	case c.Format == settingSudoers && c.Tag != "":
		ok, detail, err = judgeCount(ctx, c, name, r.out.assigns)
	default:
		ok, detail, err = judgeLast(ctx, c, name, r.out.assigns, quote)
	}
	if err != nil {
		return false, detail, err
	}
	if c.Format == settingShell {
		for _, attr := range []struct {
			want  *bool
			label string
			at    []string
		}{{c.Readonly, "readonly", r.out.readonlyAt}, {c.Export, "exported", r.out.exportAt}} {
			if attr.want == nil {
				continue
			}
			switch {
			case *attr.want && len(attr.at) > 0:
				detail += fmt.Sprintf("; %s at %s", attr.label, listPaths(attr.at))
			case *attr.want:
				ok = false
				detail += fmt.Sprintf("; %s is never marked %s (want it %s)", c.Key, attr.label, attr.label)
			case len(attr.at) > 0:
				ok = false
				detail += fmt.Sprintf("; %s at %s (want it not %s)", attr.label, listPaths(attr.at), attr.label)
			default:
				detail += fmt.Sprintf("; never %s", attr.label)
			}
		}
	}
	// Notes before the list of files read: the detail is capped and
	// they say more.
	if len(r.out.notes) > 0 {
		detail += "; " + strings.Join(limitList(r.out.notes, 5), "; ")
	}
	if len(r.out.read) == 0 {
		detail += "; no file read"
	} else {
		detail += fmt.Sprintf("; read %d files: %s", len(r.out.read), listPaths(r.out.read))
	}
	return ok, detail, nil
}

// secretKey names settings whose values evidence withholds unless the
// agent's evidence_content allows the file.
var secretKey = regexp.MustCompile(`(?i)pass|secret|token|credential|private`)

// limitList keeps the first n items and counts the rest.
func limitList(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(items[:n:n], fmt.Sprintf("and %d more", len(items)-n))
}

// testValue runs the ValueTest, hiding the value when it may not be quoted.
func testValue(ctx context.Context, c *SettingCheck, got *string, quote bool) (bool, string, error) {
	ok, detail, err := c.ValueTest.Test(ctx, got)
	if err != nil || quote || got == nil {
		return ok, detail, err
	}
	if ok {
		return ok, "(value withheld) passes", nil
	}
	return ok, "(value withheld) fails", nil
}

// judgeLast: the last assignment wins (a nil value resets to unset).
func judgeLast(ctx context.Context, c *SettingCheck, name string, as []settingAssign, quote bool) (bool, string, error) {
	var got *string
	var from []settingAssign
	if len(as) > 0 {
		last := as[len(as)-1]
		if c.Format == settingSystemd && c.List {
			// The list is every value since the last reset.
			var vals []string
			start := 0
			for i, a := range as {
				if a.value == nil {
					start = i + 1
				}
			}
			for _, a := range as[start:] {
				vals = append(vals, strings.Fields(*a.value)...)
			}
			if start < len(as) {
				s := strings.Join(vals, " ")
				got = &s
				from = as[start:]
			}
		} else if last.value != nil {
			got = last.value
			from = []settingAssign{last}
		}
	}
	ok, detail, err := testValue(ctx, c, got, quote)
	if err != nil {
		return false, "", err
	}
	var b strings.Builder
	b.WriteString(name + " " + detail)
	if len(from) > 0 {
		var w []string
		for _, a := range from {
			w = append(w, a.where())
		}
		b.WriteString(" from " + strings.Join(limitList(w, 5), ", "))
	}
	if len(as) > 0 && as[len(as)-1].value == nil {
		b.WriteString(" (reset by the empty assignment at " + as[len(as)-1].where() + ")")
	}
	overridden := len(as) - len(from)
	if len(as) > 0 && as[len(as)-1].value == nil && len(from) == 0 {
		overridden = len(as) - 1
	}
	if overridden > 0 {
		var w []string
		for _, a := range as[:overridden] {
			if a.value != nil && quote {
				w = append(w, fmt.Sprintf("%q at %s", *a.value, a.where()))
			} else if a.value != nil {
				w = append(w, a.where())
			} else {
				w = append(w, "reset at "+a.where())
			}
		}
		b.WriteString("; overrides " + strings.Join(limitList(w, 5), ", "))
	}
	return ok, b.String(), nil
}

// judgeEach judges every occurrence: match all needs each to pass (and at
// least one), match any needs one.
func judgeEach(ctx context.Context, c *SettingCheck, name string, as []settingAssign, quote bool) (bool, string, error) {
	if len(as) == 0 {
		ok, detail, err := testValue(ctx, c, nil, quote)
		if err != nil {
			return false, "", err
		}
		if c.ValueTest.Empty() {
			ok, detail = true, "not set"
		}
		return ok, name + " " + detail, nil
	}
	if c.ValueTest.Empty() { // shell readonly/export only
		var w []string
		for _, a := range as {
			w = append(w, a.where())
		}
		return true, fmt.Sprintf("%s set at %s", name, strings.Join(limitList(w, 5), ", ")), nil
	}
	var passed, failed []string
	for _, a := range as {
		ok, detail, err := testValue(ctx, c, a.value, quote)
		if err != nil {
			return false, "", err
		}
		s := detail + " at " + a.where()
		if a.note != "" {
			s += " (" + a.note + ")"
		}
		if ok {
			passed = append(passed, s)
		} else {
			failed = append(failed, s)
		}
	}
	if c.Match == "any" {
		if len(passed) > 0 {
			return true, fmt.Sprintf("%s %s (%d of %d occurrences pass)", name, strings.Join(limitList(passed, 3), "; "), len(passed), len(as)), nil
		}
		return false, fmt.Sprintf("%s: no occurrence passes: %s", name, strings.Join(limitList(failed, 5), "; ")), nil
	}
	if len(failed) > 0 {
		return false, fmt.Sprintf("%s %s (%d of %d occurrences fail)", name, strings.Join(limitList(failed, 5), "; "), len(failed), len(as)), nil
	}
	return true, fmt.Sprintf("%s %s (all %d occurrences pass)", name, strings.Join(limitList(passed, 5), "; "), len(as)), nil
}

// judgeCount judges the number of occurrences.
func judgeCount(ctx context.Context, c *SettingCheck, name string, as []settingAssign) (bool, string, error) {
	n := strconv.Itoa(len(as))
	ok, detail, err := c.ValueTest.Test(ctx, &n)
	if err != nil {
		return false, "", err
	}
	s := fmt.Sprintf("%s: count %s", name, detail)
	if len(as) > 0 {
		var w []string
		for _, a := range as {
			w = append(w, a.where())
		}
		s += " at " + strings.Join(limitList(w, 5), ", ")
	}
	return ok, s, nil
}

// ---- keyvalue ----

// keyValue mirrors libpwquality's and pam_faillock's config readers: "#"
// starts a comment anywhere on a line, the name runs to the first blank
// or "=", then blanks and one "=" are skipped and the rest (trimmed) is
// the value; a name alone is a flag with an empty value. Files are read in
// order (drop-ins after the main file, or before it with dropins_first)
// and the last assignment wins.
func (r *settingReader) keyValue(c *SettingCheck) error {
	drops, err := r.globFiles(c.Dropins)
	if err != nil {
		return err
	}
	files := append([]string{c.Path}, drops...)
	if c.DropinsFirst {
		files = append(drops, c.Path)
	}
	for _, f := range files {
		data, err := r.read(f)
		if err != nil {
			return err
		}
		r.out.assigns = append(r.out.assigns, parseKeyValue(f, data, c.Key, c.IgnoreCase)...)
	}
	return nil
}

// parseKeyValue returns the assignments of key in one keyvalue file.
func parseKeyValue(file string, data []byte, key string, ignoreCase bool) []settingAssign {
	var out []settingAssign
	for i, line := range lines(data) {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		end := strings.IndexAny(line, " \t=")
		name, rest := line, ""
		if end >= 0 {
			name, rest = line[:end], line[end:]
		}
		rest = strings.TrimLeft(rest, " \t")
		rest = strings.TrimPrefix(rest, "=")
		rest = strings.TrimSpace(rest)
		if name == key || (ignoreCase && strings.EqualFold(name, key)) {
			v := rest
			out = append(out, settingAssign{value: &v, file: file, line: i + 1})
		}
	}
	return out
}

// ---- systemd ----

// systemdDirs are the directories systemd searches for X.conf.d drop-ins,
// highest priority first: /etc over /run over /usr/local/lib over
// /usr/lib (and /lib, the same directory on a merged /usr).
var systemdDirs = []string{"/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd", "/lib/systemd"}

// systemd mirrors how systemd reads /etc/systemd/X.conf: the main file,
// then every X.conf.d/*.conf from the search directories with systemd's
// precedence (dropInFiles: a name in a higher-priority directory hides
// it in lower ones, a mask hides it and adds nothing), all sorted by file
// name; the last assignment wins and an empty one resets the setting.
func (r *settingReader) systemd(c *SettingCheck) error {
	files := []string{c.Path}
	if rel, ok := strings.CutPrefix(c.Path, "/etc/systemd/"); ok && c.Dropins == nil {
		dirs := make([]string, len(systemdDirs))
		for i, d := range systemdDirs {
			dirs[i] = d + "/" + rel + ".d"
		}
		list, err := dropInFiles(r.ctx, r.env, dirs, "*.conf")
		if err != nil {
			return err
		}
		for _, f := range list.files {
			for _, h := range list.hidden[f.path] {
				r.out.notes = append(r.out.notes, fmt.Sprintf("%s overrides %s", f.path, h))
			}
			if f.masked {
				r.out.notes = append(r.out.notes, fmt.Sprintf("%s is masked (%s)", f.path, f.how))
				continue
			}
			files = append(files, f.path)
		}
		r.out.notes = append(r.out.notes, list.ignored...)
	} else {
		drops, err := r.globFiles(c.Dropins)
		if err != nil {
			return err
		}
		files = append(files, drops...)
	}
	for _, f := range files {
		data, err := r.read(f)
		if err != nil {
			return err
		}
		r.out.assigns = append(r.out.assigns, parseSystemd(f, data, c.Section, c.Key)...)
	}
	return nil
}

// parseSystemd returns the assignments of key in section of one file read
// as systemd's config parser does: "#" and ";" start comment lines,
// "[Name]" opens a section, a line ending in "\" continues on the next
// (the backslash becomes a space), "Key=Value" with blanks around both
// trimmed, names case-sensitive; an empty value is a reset (nil).
func parseSystemd(file string, data []byte, section, key string) []settingAssign {
	var out []settingAssign
	current := ""
	ls := lines(data)
	for i := 0; i < len(ls); i++ {
		start := i
		line := strings.TrimSpace(ls[i])
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(ls) {
			i++
			next := strings.TrimSpace(ls[i])
			if next != "" && (next[0] == '#' || next[0] == ';') {
				continue // systemd skips comment lines inside a continuation
			}
			line = strings.TrimSuffix(line, `\`) + " " + next
		}
		line = strings.TrimSuffix(line, `\`)
		if strings.HasPrefix(line, "[") {
			if strings.HasSuffix(line, "]") {
				current = line[1 : len(line)-1]
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || current != section || strings.TrimSpace(k) != key {
			continue
		}
		a := settingAssign{file: file, line: start + 1}
		if v = strings.TrimSpace(v); v != "" {
			a.value = &v
		}
		out = append(out, a)
	}
	return out
}

// ---- sudoers ----

// maxIncludeDepth bounds nested sudoers includes.
const maxIncludeDepth = 32

// sudoers follows sudo's reading of /etc/sudoers: logical lines joined at
// a trailing backslash, "#" comments (but "#include", "#includedir" and
// "#" before a number are not comments), @include/#include of a file
// (relative names are relative to the including file's directory) and
// @includedir/#includedir of a directory (files whose names contain "."
// or end in "~" skipped, the rest in name order), both read in place.
// Later Defaults override earlier ones.
func (r *settingReader) sudoers(c *SettingCheck) error {
	return r.sudoersFile(c, c.Path, nil)
}

func (r *settingReader) sudoersFile(c *SettingCheck, file string, stack []string) error {
	if contains(stack, file) {
		r.out.notes = append(r.out.notes, fmt.Sprintf("include loop: %s includes %s again", stack[len(stack)-1], file))
		return nil
	}
	if len(stack) >= maxIncludeDepth {
		return fmt.Errorf("%s: includes nested more than %d deep", file, maxIncludeDepth)
	}
	data, err := r.read(file)
	if err != nil || data == nil {
		return err
	}
	stack = append(stack, file)
	ls := lines(data)
	for i := 0; i < len(ls); i++ {
		start := i
		line := ls[i]
		for strings.HasSuffix(line, `\`) && i+1 < len(ls) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + ls[i]
		}
		line = strings.TrimSpace(line)
		if inc, arg, ok := sudoInclude(line); ok {
			target := unquoteSudo(arg)
			if target == "" {
				continue
			}
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(file), target)
			}
			if inc == "include" {
				if err := r.sudoersFile(c, target, stack); err != nil {
					return err
				}
				continue
			}
			matches, err := r.env.Glob(r.ctx, target+"/*")
			if err != nil {
				return fmt.Errorf("glob %s: %w", target, err)
			}
			sort.Strings(matches)
			for _, m := range matches {
				base := path.Base(m)
				if strings.Contains(base, ".") || strings.HasSuffix(base, "~") {
					continue
				}
				if ok, err := r.regular(m); err != nil {
					return err
				} else if !ok {
					continue
				}
				if err := r.sudoersFile(c, m, stack); err != nil {
					return err
				}
			}
			continue
		}
		line = stripSudoComment(line)
		if line == "" {
			continue
		}
		word := line
		if j := strings.IndexAny(line, " \t"); j >= 0 {
			word = line[:j]
		}
		switch {
		case word == "Defaults" || (strings.HasPrefix(word, "Defaults") && strings.ContainsRune(":@>!", rune(word[8]))):
			if c.Tag != "" {
				continue
			}
			r.sudoDefaults(c, file, start+1, line)
		case contains([]string{"User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias"}, word):
		default:
			if c.Tag != "" && sudoTagRe(c.Tag).MatchString(line) {
				r.out.assigns = append(r.out.assigns, settingAssign{file: file, line: start + 1})
			}
		}
	}
	return nil
}

// sudoInclude recognises an include line: "@include x", "#include x",
// "@includedir d", "#includedir d".
func sudoInclude(line string) (kind, arg string, ok bool) {
	for _, p := range []string{"@includedir", "#includedir", "@include", "#include"} {
		if rest, found := strings.CutPrefix(line, p); found && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.TrimPrefix(strings.TrimPrefix(p, "@"), "#"), strings.TrimSpace(rest), true
		}
	}
	return "", "", false
}

// stripSudoComment drops a "#" comment outside double quotes; "#" followed
// by a digit is a uid, not a comment.
func stripSudoComment(line string) string {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case '#':
			if !inQuote && !(i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9') {
				return strings.TrimSpace(line[:i])
			}
		}
	}
	return strings.TrimSpace(line)
}

// unquoteSudo removes double quotes and backslash escapes.
func unquoteSudo(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// sudoDefaults records the parameters of one Defaults line that set key.
// Scoped lines (Defaults:user, @host, >runas, !cmnd) apply to some users,
// hosts or commands only: with scope global they are noted, not counted.
func (r *settingReader) sudoDefaults(c *SettingCheck, file string, line int, text string) {
	rest := strings.TrimPrefix(text, "Defaults")
	scope := ""
	if rest != "" && strings.ContainsRune(":@>!", rune(rest[0])) {
		j := strings.IndexAny(rest, " \t")
		if j < 0 {
			return
		}
		scope, rest = "Defaults"+rest[:j], rest[j:]
	}
	for _, param := range splitSudoParams(rest) {
		name, value, op := param, "", ""
		switch {
		case strings.HasPrefix(param, "!"):
			name, value = strings.TrimSpace(param[1:]), "false"
		case strings.Contains(param, "="):
			name, value, _ = strings.Cut(param, "=")
			name = strings.TrimSpace(name)
			if n, ok := strings.CutSuffix(name, "+"); ok {
				name, op = strings.TrimSpace(n), "+"
			} else if n, ok := strings.CutSuffix(name, "-"); ok {
				name, op = strings.TrimSpace(n), "-"
			}
			value = unquoteSudo(value)
		default:
			value = "true"
		}
		if name != c.Key {
			continue
		}
		if scope != "" && c.Scope != "any" {
			r.out.notes = append(r.out.notes, fmt.Sprintf("%s sets %s at %s:%d (scoped, not counted)", scope, name, file, line))
			continue
		}
		if op != "" && c.Scope != "any" && len(r.out.assigns) > 0 && r.out.assigns[len(r.out.assigns)-1].value != nil {
			// "+=" adds to a list, "-=" removes from it.
			prev := strings.Fields(*r.out.assigns[len(r.out.assigns)-1].value)
			words := strings.Fields(value)
			if op == "+" {
				prev = append(prev, words...)
			} else {
				prev = slicesDelete(prev, words)
			}
			value = strings.Join(prev, " ")
		}
		v := value
		r.out.assigns = append(r.out.assigns, settingAssign{value: &v, file: file, line: line, note: scope})
	}
}

func slicesDelete(list, remove []string) []string {
	out := list[:0:0]
	for _, w := range list {
		if !contains(remove, w) {
			out = append(out, w)
		}
	}
	return out
}

// splitSudoParams splits a Defaults parameter list at commas outside
// double quotes.
func splitSudoParams(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	out = append(out, strings.TrimSpace(s[start:]))
	kept := out[:0]
	for _, p := range out {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return kept
}

func sudoTagRe(tag string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(tag) + `\s*:`)
}

// ---- shell ----

// shell finds, without running anything, the assignments of a variable
// (NAME=value, export/readonly/declare/typeset/local NAME=value) or umask
// commands in shell start-up files, wherever they are: in a condition's
// branch or a function too, because which branch runs cannot be known
// without running the file. Each occurrence is judged (match all by
// default). readonly/export record where the variable is so marked.
func (r *settingReader) shell(c *SettingCheck) error {
	drops, err := r.globFiles(c.Dropins)
	if err != nil {
		return err
	}
	for _, f := range append([]string{c.Path}, drops...) {
		data, err := r.read(f)
		if err != nil {
			return err
		}
		a, ro, ex := parseShell(f, data, c.Key)
		r.out.assigns = append(r.out.assigns, a...)
		r.out.readonlyAt = append(r.out.readonlyAt, ro...)
		r.out.exportAt = append(r.out.exportAt, ex...)
	}
	return nil
}

// shellWords splits one line into simple commands of words: quotes are
// kept together (and removed), "#" at a word start ends the line, and
// ";", "&", "|", "(", ")" separate commands.
func shellWords(line string) [][]string {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		flush()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			w.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case ch == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				w.WriteByte(line[i])
			}
			inWord = true
		case ch == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		case ch == '#' && !inWord:
			endCmd()
			return cmds
		case ch == ' ' || ch == '\t':
			flush()
		case strings.IndexByte(";&|()`", ch) >= 0:
			endCmd()
		default:
			w.WriteByte(ch)
			inWord = true
		}
	}
	endCmd()
	return cmds
}

// shellKeywords may precede a simple command on the same line.
var shellKeywords = []string{"then", "else", "elif", "do", "if", "while", "until", "{", "}", "!", "fi", "done", "esac"}

// parseShell returns key's occurrences in one shell file, and where the
// variable is marked readonly and exported.
func parseShell(file string, data []byte, key string) (as []settingAssign, ro, ex []string) {
	ls := lines(data)
	for i := 0; i < len(ls); i++ {
		start := i
		line := ls[i]
		for strings.HasSuffix(line, `\`) && i+1 < len(ls) {
			i++
			line = strings.TrimSuffix(line, `\`) + ls[i]
		}
		where := fmt.Sprintf("%s:%d", file, start+1)
		for _, words := range shellWords(line) {
			for len(words) > 0 && contains(shellKeywords, words[0]) {
				words = words[1:]
			}
			if len(words) == 0 {
				continue
			}
			if key == "umask" {
				if words[0] != "umask" {
					continue
				}
				args := words[1:]
				for len(args) > 0 && strings.HasPrefix(args[0], "-") {
					args = args[1:]
				}
				if len(args) == 0 {
					continue // prints the mask
				}
				v := umaskValue(args[0])
				as = append(as, settingAssign{value: &v, file: file, line: start + 1})
				continue
			}
			switch words[0] {
			case "export", "readonly", "declare", "typeset", "local":
				isRO, isEx := words[0] == "readonly", words[0] == "export"
				for _, w := range words[1:] {
					if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "+") {
						isRO = isRO || (w[0] == '-' && strings.Contains(w, "r"))
						isEx = isEx || (w[0] == '-' && strings.Contains(w, "x"))
						continue
					}
					name, value, hasValue := strings.Cut(w, "=")
					if name != key {
						continue
					}
					if hasValue {
						v := value
						as = append(as, settingAssign{value: &v, file: file, line: start + 1})
					}
					if isRO {
						ro = append(ro, where)
					}
					if isEx {
						ex = append(ex, where)
					}
				}
			default:
				// Leading NAME=value words; if a command follows they only
				// set its environment.
				var found []settingAssign
				j := 0
				for ; j < len(words); j++ {
					name, value, ok := strings.Cut(words[j], "=")
					if !ok || !shellName.MatchString(name) {
						break
					}
					if name == key {
						v := value
						found = append(found, settingAssign{value: &v, file: file, line: start + 1})
					}
				}
				if j == len(words) {
					as = append(as, found...)
				}
			}
		}
	}
	return as, ro, ex
}

// umaskValue turns a symbolic umask ("u=rwx,g=rx,o=") into octal, as the
// shell does: the mask is what the permissions listed leave out. Other
// text is returned as written.
func umaskValue(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	perm := map[byte]uint32{}
	for _, part := range strings.Split(s, ",") {
		who, what, ok := strings.Cut(part, "=")
		if !ok || who == "" {
			return s
		}
		var bits uint32
		for _, ch := range what {
			switch ch {
			case 'r':
				bits |= 4
			case 'w':
				bits |= 2
			case 'x':
				bits |= 1
			default:
				return s
			}
		}
		for _, w := range []byte(who) {
			switch w {
			case 'u', 'g', 'o':
				perm[w] = bits
			case 'a':
				perm['u'], perm['g'], perm['o'] = bits, bits, bits
			default:
				return s
			}
		}
	}
	for _, w := range []byte("ugo") {
		if _, ok := perm[w]; !ok {
			return s // a partial symbolic mask depends on the current one
		}
	}
	return fmt.Sprintf("0%o%o%o", 7&^perm['u'], 7&^perm['g'], 7&^perm['o'])
}

// ---- limits ----

// limits mirrors pam_limits: limits.conf then the drop-ins in name order,
// "#" starts a comment anywhere, a line is "<domain> <type> <item>
// <value>"; type "-" sets both soft and hard. A later line for the same
// domain, type and item replaces an earlier one.
func (r *settingReader) limits(c *SettingCheck) error {
	want := strings.Fields(c.Key)
	if len(want) != 3 {
		return fmt.Errorf("key %q is not \"<domain> <type> <item>\"", c.Key)
	}
	drops, err := r.globFiles(c.Dropins)
	if err != nil {
		return err
	}
	for _, f := range append([]string{c.Path}, drops...) {
		data, err := r.read(f)
		if err != nil {
			return err
		}
		for i, line := range lines(data) {
			if j := strings.IndexByte(line, '#'); j >= 0 {
				line = line[:j]
			}
			fs := strings.Fields(line)
			if len(fs) == 0 {
				continue
			}
			if len(fs) != 4 {
				r.out.notes = append(r.out.notes, fmt.Sprintf("%s:%d is malformed (want 4 fields), ignored", f, i+1))
				continue
			}
			if fs[0] != want[0] || fs[2] != want[2] || (fs[1] != want[1] && fs[1] != "-") {
				continue
			}
			v := fs[3]
			r.out.assigns = append(r.out.assigns, settingAssign{value: &v, file: f, line: i + 1})
		}
	}
	return nil
}

// ---- directive ----

// maxDirectiveLines bounds a parenthesised directive spread over lines.
const maxDirectiveLines = 100

// directive reads line-oriented configs where a keyword may repeat
// (chrony, rsyslog): lines starting with "#", "!", ";" or "%" are
// comments, the first word (up to a blank or "(") is the directive,
// compared without case, and the rest of the line is its value. A
// RainerScript "name(...)" spread over several lines is joined until its
// parentheses balance.
func (r *settingReader) directive(c *SettingCheck) error {
	drops, err := r.globFiles(c.Dropins)
	if err != nil {
		return err
	}
	for _, f := range append([]string{c.Path}, drops...) {
		data, err := r.read(f)
		if err != nil {
			return err
		}
		r.out.assigns = append(r.out.assigns, parseDirective(f, data, c.Key)...)
	}
	return nil
}

func parseDirective(file string, data []byte, key string) []settingAssign {
	var out []settingAssign
	ls := lines(data)
	for i := 0; i < len(ls); i++ {
		start := i
		line := strings.TrimSpace(ls[i])
		if line == "" || strings.IndexByte("#!;%", line[0]) >= 0 {
			continue
		}
		end := strings.IndexAny(line, " \t(")
		word, rest := line, ""
		if end >= 0 {
			word, rest = line[:end], strings.TrimSpace(line[end:])
		}
		if strings.HasPrefix(rest, "(") {
			for n := 0; parenDepth(rest) > 0 && i+1 < len(ls) && n < maxDirectiveLines; n++ {
				i++
				rest += " " + strings.TrimSpace(ls[i])
			}
		}
		if !strings.EqualFold(word, key) {
			continue
		}
		v := rest
		out = append(out, settingAssign{value: &v, file: file, line: start + 1})
	}
	return out
}

// parenDepth counts unclosed parentheses outside double quotes.
func parenDepth(s string) int {
	depth, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case '(':
			if !inQuote {
				depth++
			}
		case ')':
			if !inQuote {
				depth--
			}
		}
	}
	return depth
}
