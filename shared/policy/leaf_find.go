package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FindCheck is the find leaf: a streaming recursive scan of the checked
// system that counts the entries for which every given predicate holds
// (the offenders) and passes when there are at most MaxMatches.
type FindCheck struct {
	// Roots: Paths, or (HomeDirs) the home directories of interactive
	// accounts.
	Paths    []string `json:"paths,omitempty" yaml:"paths,omitempty"`
	HomeDirs bool     `json:"home_dirs,omitempty" yaml:"home_dirs,omitempty"`
	// Name is a path.Match glob on the base name; NameNot are globs an
	// offender's base name matches none of.
	Name    string   `json:"name,omitempty" yaml:"name,omitempty"`
	NameNot []string `json:"name_not,omitempty" yaml:"name_not,omitempty"`
	// Type is file, dir, symlink or any ("" is any).
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	// MaxDepth limits how far below a root entries are examined: nil is
	// unlimited, 0 the roots only (a pointer so that JSON keeps the 0).
	MaxDepth       *int     `json:"max_depth,omitempty" yaml:"max_depth,omitempty"`
	SameFilesystem bool     `json:"same_filesystem,omitempty" yaml:"same_filesystem,omitempty"`
	Exclude        []string `json:"exclude,omitempty" yaml:"exclude,omitempty"`
	// ExcludeFSTypes replaces DefaultExcludeFSTypes when given (nil: the
	// default; an empty list: exclude none, which JSON must keep).
	ExcludeFSTypes *[]string `json:"exclude_fstypes,omitempty" yaml:"exclude_fstypes,omitempty"`

	// Predicates: an entry is an offender when all those given hold.
	WorldWritable *bool    `json:"world_writable,omitempty" yaml:"world_writable,omitempty"`
	Sticky        *bool    `json:"sticky,omitempty" yaml:"sticky,omitempty"`
	SUID          *bool    `json:"suid,omitempty" yaml:"suid,omitempty"`
	SGID          *bool    `json:"sgid,omitempty" yaml:"sgid,omitempty"`
	NoOwner       *bool    `json:"no_owner,omitempty" yaml:"no_owner,omitempty"`
	NoGroup       *bool    `json:"no_group,omitempty" yaml:"no_group,omitempty"`
	OwnerNot      []string `json:"owner_not,omitempty" yaml:"owner_not,omitempty"`
	GroupNot      []string `json:"group_not,omitempty" yaml:"group_not,omitempty"`
	NotHomeOwner  *bool    `json:"not_home_owner,omitempty" yaml:"not_home_owner,omitempty"`
	NotHomeGroup  *bool    `json:"not_home_group,omitempty" yaml:"not_home_group,omitempty"`
	ModeOver      string   `json:"mode_over,omitempty" yaml:"mode_over,omitempty"`

	// Outcome and limits.
	MaxMatches int    `json:"max_matches,omitempty" yaml:"max_matches,omitempty"`
	Report     *int   `json:"report,omitempty" yaml:"report,omitempty"`
	Timeout    string `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	MaxEntries int64  `json:"max_entries,omitempty" yaml:"max_entries,omitempty"`
}

// Limits and defaults of the find leaf.
const (
	DefaultFindTimeout    = 60 * time.Second
	MaxFindTimeout        = 10 * time.Minute
	DefaultFindEntries    = 5_000_000
	DefaultFindReport     = 10
	MaxFindReport         = 100
	DefaultHomeUIDMin     = 1000
	maxFindRootsFromHomes = 10_000
)

// DefaultExcludeFSTypes are the file-system types a find scan does not
// descend into unless exclude_fstypes says otherwise: kernel and virtual
// file systems (their entries are not files an admin placed) and network
// file systems (another host's files, and slow). overlay is not among
// them: it is the root file system of most containers.
var DefaultExcludeFSTypes = []string{
	"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
	"pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc", "efivarfs",
	"nsfs", "rpc_pipefs", "nfsd",
	"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.sshfs", "9p",
}

// Walker is implemented by an Env that can scan a directory tree entry by
// entry. The find leaf holds the logic; the Walker only streams what it
// finds, without ever following a symbolic link, and counts what it could
// not read.
type Walker interface {
	// Walk visits every entry under each root of spec (the root itself at
	// depth 0), in no particular order but one call at a time (a walker
	// that lists directories in parallel serialises the visits), until
	// visit returns an error (Walk returns it) or ctx is done (Walk
	// returns ctx.Err()). Problems with single entries (an unreadable
	// directory, an entry that vanished, a directory that is its own
	// ancestor) are counted in WalkStats, never returned.
	Walk(ctx context.Context, spec WalkSpec, visit func(*WalkEntry) error) (WalkStats, error)
}

// WalkSpec says where a Walker goes.
type WalkSpec struct {
	// Roots are absolute paths on the checked system. A root that does
	// not exist is counted in Missing.
	Roots []string
	// MaxDepth, when not nil, is the deepest level examined: 0 the roots
	// only, 1 also a root's direct children. nil is unlimited.
	MaxDepth *int
	// SameFilesystem keeps each root's walk on the root's file system.
	SameFilesystem bool
	// Exclude are paths on the checked system neither visited nor
	// descended into; a root equal to or under one is not scanned (it
	// counts as pruned).
	Exclude []string
	// ExcludeFSTypes are file-system types whose mount points are neither
	// visited nor descended into. Only a live system has mounts to consult.
	ExcludeFSTypes []string
}

// WalkEntry is one entry a Walker found. It is only valid during the
// visit call: copy what you keep.
type WalkEntry struct {
	// Dir is the directory holding the entry on the checked system, Name
	// its base name; a root has Dir "" and Name the root's path.
	Dir, Name string
	// Root is the root the entry was found under.
	Root  string
	Depth int
	// Mode holds the type bits and permissions (with fs.ModeSetuid,
	// fs.ModeSetgid and fs.ModeSticky) of the entry itself (lstat).
	Mode fs.FileMode
	// HasIDs says whether UID and GID are known (false on Windows).
	HasIDs   bool
	UID, GID uint32
	// Owner and Group are the names the checked system's own account
	// database gives UID and GID, "" when it has none.
	Owner, Group string
}

// Path is the entry's path on the checked system.
func (e *WalkEntry) Path() string {
	if e.Dir == "" {
		return e.Name
	}
	if strings.HasSuffix(e.Dir, "/") {
		return e.Dir + e.Name
	}
	return e.Dir + "/" + e.Name
}

// WalkStats counts what a walk saw and what it could not see.
type WalkStats struct {
	Entries int64
	// Unreadable: directories that could not be opened or listed.
	Unreadable int64
	// Vanished: entries listed but gone (or replaced) when examined.
	Vanished int64
	// Loops: directories that are the same directory as one of their
	// ancestors (bind mounts), not descended into again.
	Loops int64
	// Missing: roots that do not exist.
	Missing int64
	// Pruned: excluded paths and mount points of excluded file-system
	// types (or other file systems, with SameFilesystem) not descended
	// into.
	Pruned int64
}

// HomeDirsEnv is implemented by an Env that can list the interactive
// accounts' home directories of the checked system (for home_dirs).
type HomeDirsEnv interface {
	// HomeDirs returns each interactive account (uid >= UID_MIN from
	// login.defs, and root, with a login shell) and its home directory.
	HomeDirs(ctx context.Context) ([]HomeDir, error)
}

// HomeDir is one interactive account's home directory.
type HomeDir struct {
	Account string
	UID     uint32
	// GID is the account's primary group (passwd's fourth field).
	GID uint32
	Dir string
}

var findKeys = []string{"paths", "home_dirs", "name", "name_not", "type", "max_depth", "same_filesystem", "exclude", "exclude_fstypes",
	"world_writable", "sticky", "suid", "sgid", "no_owner", "no_group", "owner_not", "group_not", "not_home_owner", "not_home_group", "mode_over",
	"max_matches", "report", "timeout", "max_entries"}

var findPredicates = []string{"name", "name_not", "world_writable", "sticky", "suid", "sgid", "no_owner", "no_group", "owner_not", "group_not", "not_home_owner", "not_home_group", "mode_over"}

// baseNameGlobProblem says why s is not a glob on a base name, "" when it
// is one. Globs are path.Match's: "*", "?", "[...]" classes (with "^" to
// negate and "a-z" ranges) and "\" escapes.
func baseNameGlobProblem(s string) string {
	if s == "" {
		return "it is empty"
	}
	if strings.Contains(s, "/") {
		return `a base name has no "/"`
	}
	_, err := path.Match(s, "")
	if err == nil {
		return ""
	}
	return fmt.Sprintf("%v: %s", err, globSyntaxHint(s))
}

// globSyntaxHint locates the first construct path.Match rejects in s,
// reading "[...]" classes as it does: each item is a character or an
// "a-z" range, "\\" escapes the next character, and "]" closes the class
// only after at least one item.
func globSyntaxHint(s string) string {
	const dash = `in the class at offset %d a "-" must join two characters (write \- for a literal -)`
	unclosed := func(i int) string { return fmt.Sprintf(`the class at offset %d is never closed with "]"`, i) }
	// char reads one class character at j: the index after it, or a
	// problem.
	char := func(i, j int) (int, string) {
		switch {
		case j >= len(s):
			return j, unclosed(i)
		case s[j] == '-':
			return j, fmt.Sprintf(dash, i)
		case s[j] == ']':
			return j, fmt.Sprintf(`the class at offset %d is empty or starts with "]" (write \] for a literal ])`, i)
		case s[j] == '\\':
			j++
			if j >= len(s) {
				return j, unclosed(i)
			}
		}
		return j + 1, ""
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return `it ends in a lone "\"`
			}
			i++
		case '[':
			j := i + 1
			if j < len(s) && s[j] == '^' {
				j++
			}
			for items := 0; ; items++ {
				if j < len(s) && s[j] == ']' && items > 0 {
					break
				}
				var why string
				if j, why = char(i, j); why != "" {
					return why
				}
				if j < len(s) && s[j] == '-' {
					if j+1 < len(s) && (s[j+1] == ']' || s[j+1] == '-') {
						return fmt.Sprintf(dash, i)
					}
					if j, why = char(i, j+1); why != "" {
						return why
					}
				}
			}
			i = j
		}
	}
	return "check its [...] classes and \\ escapes"
}

func (ps *parser) findCheck(n *yaml.Node, p string) *FindCheck {
	fields := ps.fields(n, p, findKeys)
	if fields == nil {
		return nil
	}
	c := &FindCheck{}
	absList := func(key string) []string {
		v := fields[key]
		if v == nil {
			return nil
		}
		list, ok := ps.strs(v, join(p, key))
		if !ok {
			return nil
		}
		for i, s := range list {
			if !strings.HasPrefix(s, "/") {
				ps.add(ps.deref(v).Content[i], fmt.Sprintf("%s[%d]", join(p, key), i), "%q must be an absolute path", s)
			}
		}
		return list
	}
	c.Paths = absList("paths")
	if v := fields["paths"]; v != nil && c.Paths != nil && len(c.Paths) == 0 {
		ps.add(ps.deref(v), p+".paths", "must list at least one path")
	}
	if b := ps.optBool(fields, "home_dirs", p); b != nil {
		c.HomeDirs = *b
	}
	switch {
	case fields["paths"] == nil && !c.HomeDirs:
		ps.add(ps.deref(n), p, "needs paths or home_dirs: true")
	case fields["paths"] != nil && c.HomeDirs:
		ps.add(ps.deref(fields["home_dirs"]), p+".home_dirs", "paths and home_dirs are exclusive; give one")
	}
	if v := fields["name"]; v != nil {
		if s, ok := ps.str(v, p+".name"); ok {
			if why := baseNameGlobProblem(s); why != "" {
				ps.add(ps.deref(v), p+".name", "%q is not a valid glob on a base name: %s", s, why)
			}
			c.Name = s
		}
	}
	if v := fields["name_not"]; v != nil {
		// One glob or a list of them.
		var list []string
		var items []*yaml.Node
		if ps.deref(v).Kind == yaml.SequenceNode {
			l, ok := ps.strs(v, p+".name_not")
			if ok && len(l) == 0 {
				ps.add(ps.deref(v), p+".name_not", "must list at least one glob")
			}
			if ok { // a wrong item is reported already
				list, items = l, ps.deref(v).Content
			}
		} else if s, ok := ps.str(v, p+".name_not"); ok {
			list, items = []string{s}, []*yaml.Node{ps.deref(v)}
		}
		for i, s := range list {
			if i >= len(items) {
				break
			}
			if why := baseNameGlobProblem(s); why != "" {
				field := fmt.Sprintf("%s.name_not[%d]", p, i)
				if ps.deref(v).Kind != yaml.SequenceNode {
					field = p + ".name_not"
				}
				ps.add(ps.deref(items[i]), field, "%q is not a valid glob on a base name: %s", s, why)
			}
		}
		c.NameNot = list
	}
	if v := fields["type"]; v != nil {
		if s, ok := ps.str(v, p+".type"); ok {
			if s != "file" && s != "dir" && s != "symlink" && s != "any" {
				ps.add(ps.deref(v), p+".type", "%q is not file, dir, symlink or any", s)
			}
			c.Type = s
		}
	}
	if v := fields["max_depth"]; v != nil {
		if d, ok := ps.integer(v, p+".max_depth"); ok {
			if d < 0 {
				ps.add(ps.deref(v), p+".max_depth", "must not be negative (0 examines the roots only; leave it out for no limit)")
			}
			c.MaxDepth = &d
		}
	}
	if b := ps.optBool(fields, "same_filesystem", p); b != nil {
		c.SameFilesystem = *b
	}
	c.Exclude = absList("exclude")
	if v := fields["exclude_fstypes"]; v != nil {
		if list, ok := ps.strs(v, p+".exclude_fstypes"); ok {
			c.ExcludeFSTypes = &list
		}
	}
	c.WorldWritable = ps.optBool(fields, "world_writable", p)
	c.Sticky = ps.optBool(fields, "sticky", p)
	c.SUID = ps.optBool(fields, "suid", p)
	c.SGID = ps.optBool(fields, "sgid", p)
	c.NoOwner = ps.optBool(fields, "no_owner", p)
	c.NoGroup = ps.optBool(fields, "no_group", p)
	c.NotHomeOwner = ps.optBool(fields, "not_home_owner", p)
	c.NotHomeGroup = ps.optBool(fields, "not_home_group", p)
	for key, b := range map[string]*bool{"not_home_owner": c.NotHomeOwner, "not_home_group": c.NotHomeGroup} {
		if b != nil && !c.HomeDirs {
			ps.add(ps.deref(fields[key]), p+"."+key, "needs home_dirs: true")
		}
	}
	for _, key := range []string{"owner_not", "group_not"} {
		v := fields[key]
		if v == nil {
			continue
		}
		list, ok := ps.strs(v, join(p, key))
		if ok && len(list) == 0 {
			ps.add(ps.deref(v), join(p, key), "must list at least one name")
		}
		if key == "owner_not" {
			c.OwnerNot = list
		} else {
			c.GroupNot = list
		}
	}
	if v := fields["mode_over"]; v != nil {
		if s, ok := ps.str(v, p+".mode_over"); ok {
			if _, err := ParseMode(s); err != nil {
				ps.add(ps.deref(v), p+".mode_over", "%v", err)
			}
			c.ModeOver = s
		}
	}
	given := false
	for _, k := range findPredicates {
		given = given || fields[k] != nil
	}
	if !given {
		ps.add(ps.deref(n), p, "needs at least one of %s", strings.Join(findPredicates, ", "))
	}
	if v := fields["max_matches"]; v != nil {
		if m, ok := ps.integer(v, p+".max_matches"); ok {
			if m < 0 {
				ps.add(ps.deref(v), p+".max_matches", "must not be negative")
			}
			c.MaxMatches = m
		}
	}
	if v := fields["report"]; v != nil {
		if r, ok := ps.integer(v, p+".report"); ok {
			if r < 0 || r > MaxFindReport {
				ps.add(ps.deref(v), p+".report", "%d is outside 0..%d", r, MaxFindReport)
			}
			c.Report = &r
		}
	}
	if v := fields["timeout"]; v != nil {
		if s, ok := ps.str(v, p+".timeout"); ok {
			if _, err := parseFindTimeout(s); err != nil {
				ps.add(ps.deref(v), p+".timeout", "%v", err)
			}
			c.Timeout = s
		}
	}
	if v := fields["max_entries"]; v != nil {
		if m, ok := ps.integer(v, p+".max_entries"); ok {
			if m < 1 {
				ps.add(ps.deref(v), p+".max_entries", "must be at least 1")
			}
			c.MaxEntries = int64(m)
		}
	}
	return c
}

// parseFindTimeout reads a find timeout: a Go duration above zero and at
// most MaxFindTimeout; "" is DefaultFindTimeout.
func parseFindTimeout(s string) (time.Duration, error) {
	if s == "" {
		return DefaultFindTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 60s or 5m", s)
	}
	if d <= 0 || d > MaxFindTimeout {
		return 0, fmt.Errorf("%s is outside (0, %s]", d, MaxFindTimeout)
	}
	return d, nil
}

// findTimeout is the leaf's deadline: its timeout key, else the default.
func findTimeout(c *FindCheck) time.Duration {
	d, err := parseFindTimeout(c.Timeout)
	if err != nil {
		return DefaultFindTimeout
	}
	return d
}

// errFindLimit stops a walk at max_entries.
var errFindLimit = errors.New("entry limit reached")

// finder holds one scan's predicates, compiled.
type finder struct {
	c          *FindCheck
	modeOver   uint32
	hasMode    bool
	homeOwner  map[string]uint32 // root -> uid whose home it is
	homeGroup  map[string]uint32 // root -> that account's primary gid
	report     int
	maxEntries int64
	offenders  int64
	shown      []shownEntry // the report offenders first by path, sorted
	seen       int64
	last       string // the directory being scanned when stopped
	needIDs    bool
	name       baseGlob   // c.Name, when given
	nameNot    []baseGlob // c.NameNot
}

func findLeaf(ctx context.Context, env Env, c *FindCheck) (bool, string, error) {
	w, ok := env.(Walker)
	if !ok {
		return false, "", fmt.Errorf("find: directory scans: %w", ErrUnavailable)
	}
	f := &finder{c: c, report: DefaultFindReport, maxEntries: DefaultFindEntries}
	if c.Report != nil {
		f.report = *c.Report
	}
	if c.MaxEntries > 0 {
		f.maxEntries = c.MaxEntries
	}
	if c.ModeOver != "" {
		m, err := ParseMode(c.ModeOver)
		if err != nil {
			return false, "", fmt.Errorf("mode_over: %w", err)
		}
		f.modeOver, f.hasMode = m, true
	}
	if c.Name != "" {
		f.name = newBaseGlob(c.Name)
	}
	for _, g := range c.NameNot {
		f.nameNot = append(f.nameNot, newBaseGlob(g))
	}
	f.needIDs = c.NoOwner != nil || c.NoGroup != nil || c.OwnerNot != nil || c.GroupNot != nil || c.NotHomeOwner != nil || c.NotHomeGroup != nil
	spec := WalkSpec{
		Roots:          c.Paths,
		MaxDepth:       c.MaxDepth,
		SameFilesystem: c.SameFilesystem,
		Exclude:        c.Exclude,
		ExcludeFSTypes: DefaultExcludeFSTypes,
	}
	if c.ExcludeFSTypes != nil {
		spec.ExcludeFSTypes = *c.ExcludeFSTypes
	}
	where := strings.Join(c.Paths, ", ")
	if c.HomeDirs {
		he, ok := env.(HomeDirsEnv)
		if !ok {
			return false, "", fmt.Errorf("find: home_dirs: the accounts' home directories: %w", ErrUnavailable)
		}
		homes, err := he.HomeDirs(ctx)
		if err != nil {
			return false, "", fmt.Errorf("find: home_dirs: %w", err)
		}
		if len(homes) > maxFindRootsFromHomes {
			return false, "", fmt.Errorf("find: home_dirs: %d home directories, more than %d", len(homes), maxFindRootsFromHomes)
		}
		f.homeOwner, f.homeGroup = map[string]uint32{}, map[string]uint32{}
		for _, h := range homes {
			if _, dup := f.homeOwner[h.Dir]; dup || h.Dir == "" || !strings.HasPrefix(h.Dir, "/") {
				continue
			}
			f.homeOwner[h.Dir] = h.UID
			f.homeGroup[h.Dir] = h.GID
			spec.Roots = append(spec.Roots, h.Dir)
		}
		where = fmt.Sprintf("%d home directories", len(spec.Roots))
		if len(spec.Roots) == 0 {
			return true, "no interactive account has a home directory", nil
		}
	}
	start := time.Now()
	stats, err := w.Walk(ctx, spec, f.visit)
	took := time.Since(start).Round(time.Millisecond)
	summary := fmt.Sprintf("scanned %s entries under %s in %s; %s", groupDigits(stats.Entries), where, took, f.offendersText())
	if skipped := skippedText(stats); skipped != "" {
		summary += "; skipped: " + skipped
	}
	if err != nil {
		summary += "; stopped in " + f.last
	}
	switch {
	case errors.Is(err, errFindLimit):
		return false, summary, fmt.Errorf("find: stopped at max_entries %s in %s", groupDigits(f.maxEntries), f.last)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return false, summary, fmt.Errorf("find: stopped (%w) after %s entries in %s", err, groupDigits(f.seen), f.last)
	case err != nil:
		return false, summary, fmt.Errorf("find: %w", err)
	}
	return f.offenders <= int64(c.MaxMatches), summary, nil
}

// visit judges one entry.
func (f *finder) visit(e *WalkEntry) error {
	f.seen++
	if f.seen > f.maxEntries {
		f.last = e.Dir
		return errFindLimit
	}
	f.last = e.Dir
	if e.Dir == "" {
		f.last = e.Name
	}
	if !f.offends(e) {
		return nil
	}
	f.offenders++
	f.keep(e)
	return nil
}

// shownEntry is an offender evidence lists.
type shownEntry struct{ path, text string }

// keep remembers e when it is among the first report offenders by path,
// so that the same offenders are listed whatever order a walk found them
// in.
func (f *finder) keep(e *WalkEntry) {
	if f.report == 0 {
		return
	}
	p := e.Path()
	full := len(f.shown) >= f.report
	if full && p >= f.shown[len(f.shown)-1].path {
		return
	}
	i, _ := slices.BinarySearchFunc(f.shown, p, func(s shownEntry, p string) int { return strings.Compare(s.path, p) })
	if full {
		f.shown = f.shown[:len(f.shown)-1]
	}
	f.shown = slices.Insert(f.shown, i, shownEntry{p, f.describe(e)})
}

// offends reports whether every predicate given holds for e.
func (f *finder) offends(e *WalkEntry) bool {
	c := f.c
	switch c.Type {
	case "file":
		if !e.Mode.IsRegular() {
			return false
		}
	case "dir":
		if !e.Mode.IsDir() {
			return false
		}
	case "symlink":
		if e.Mode&fs.ModeSymlink == 0 {
			return false
		}
	}
	if c.Name != "" || c.NameNot != nil {
		base := e.Name
		if e.Dir == "" {
			base = path.Base(e.Name)
		}
		if c.Name != "" && !f.name.match(base) {
			return false
		}
		for i := range f.nameNot {
			if f.nameNot[i].match(base) {
				return false
			}
		}
	}
	perm := UnixPerm(e.Mode)
	if !flag(c.WorldWritable, perm&0o002 != 0 && e.Mode&fs.ModeSymlink == 0) ||
		!flag(c.Sticky, perm&0o1000 != 0) || !flag(c.SUID, perm&0o4000 != 0) || !flag(c.SGID, perm&0o2000 != 0) {
		return false
	}
	if f.hasMode && (perm&^f.modeOver == 0 || e.Mode&fs.ModeSymlink != 0) {
		return false
	}
	if f.needIDs {
		if !e.HasIDs {
			return false
		}
		if !flag(c.NoOwner, e.Owner == "") || !flag(c.NoGroup, e.Group == "") {
			return false
		}
		if c.OwnerNot != nil && nameIn(c.OwnerNot, e.Owner, e.UID) {
			return false
		}
		if c.GroupNot != nil && nameIn(c.GroupNot, e.Group, e.GID) {
			return false
		}
		if c.NotHomeOwner != nil {
			uid, ok := f.homeOwner[e.Root]
			if !ok || !flag(c.NotHomeOwner, e.UID != uid) {
				return false
			}
		}
		if c.NotHomeGroup != nil {
			gid, ok := f.homeGroup[e.Root]
			if !ok || !flag(c.NotHomeGroup, e.GID != gid) {
				return false
			}
		}
	}
	return true
}

// flag is true when want is not given or equals got.
func flag(want *bool, got bool) bool { return want == nil || *want == got }

// nameIn reports whether the account or group (name, numeric id) is in
// list, which may hold names and numeric ids.
func nameIn(list []string, name string, id uint32) bool {
	for _, n := range list {
		if (name != "" && n == name) || n == strconv.FormatUint(uint64(id), 10) {
			return true
		}
	}
	return false
}

// describe names an offender with what made it one: "/var/tmp/x (mode
// 0777, owner alice)".
func (f *finder) describe(e *WalkEntry) string {
	parts := []string{fmt.Sprintf("mode %04o", UnixPerm(e.Mode))}
	if t := typeName(e.Mode); t != "file" {
		parts = append([]string{t}, parts...)
	}
	if e.HasIDs {
		owner, group := e.Owner, e.Group
		if owner == "" {
			owner = "uid " + strconv.FormatUint(uint64(e.UID), 10) + " (no account)"
		}
		if group == "" {
			group = "gid " + strconv.FormatUint(uint64(e.GID), 10) + " (no group)"
		}
		parts = append(parts, "owner "+owner, "group "+group)
	}
	return fmt.Sprintf("%s (%s)", e.Path(), strings.Join(parts, ", "))
}

func (f *finder) offendersText() string {
	if f.offenders == 0 {
		return "no offenders"
	}
	word := "offenders"
	if f.offenders == 1 {
		word = "offender"
	}
	s := fmt.Sprintf("%s %s (max_matches %d)", groupDigits(f.offenders), word, f.c.MaxMatches)
	if len(f.shown) > 0 {
		texts := make([]string, len(f.shown))
		for i, e := range f.shown {
			texts[i] = e.text
		}
		s += ": " + strings.Join(texts, ", ")
		if more := f.offenders - int64(len(f.shown)); more > 0 {
			s += fmt.Sprintf(" and %s more", groupDigits(more))
		}
	}
	return s
}

// skippedText lists what a walk could not examine.
func skippedText(s WalkStats) string {
	var out []string
	add := func(n int64, one, many string) {
		switch {
		case n == 1:
			out = append(out, "1 "+one)
		case n > 1:
			out = append(out, groupDigits(n)+" "+many)
		}
	}
	add(s.Unreadable, "unreadable directory", "unreadable directories")
	add(s.Vanished, "entry that vanished while scanned", "entries that vanished while scanned")
	add(s.Loops, "directory loop", "directory loops")
	add(s.Missing, "missing root", "missing roots")
	add(s.Pruned, "excluded path or mount", "excluded paths or mounts")
	return strings.Join(out, ", ")
}

// groupDigits writes n with thousands separators: 183,442.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
