package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// AccountsCheck is the accounts leaf: a query over the checked system's
// /etc/passwd or /etc/group (joined with /etc/group, /etc/shadow and
// /etc/shells where a filter or test needs them).
type AccountsCheck struct {
	From  string        `json:"from" yaml:"from"` // users | groups
	Where AccountsWhere `json:"where,omitempty" yaml:"where,omitempty"`
	// Unique: no two selected records share this field (uid, gid, name).
	Unique string `json:"unique,omitempty" yaml:"unique,omitempty"`
	// Field is judged for every selected record by the ValueTest keys.
	Field              string `json:"field,omitempty" yaml:"field,omitempty"`
	PrimaryGroupExists bool   `json:"primary_group_exists,omitempty" yaml:"primary_group_exists,omitempty"`
	HomeExists         bool   `json:"home_exists,omitempty" yaml:"home_exists,omitempty"`
	HomeOwned          bool   `json:"home_owned,omitempty" yaml:"home_owned,omitempty"`
	HomeGroupOwned     bool   `json:"home_group_owned,omitempty" yaml:"home_group_owned,omitempty"`
	// Empty: no record is selected at all.
	Empty     bool `json:"empty,omitempty" yaml:"empty,omitempty"`
	ValueTest `yaml:",inline"`
}

// AccountsWhere filters records; every filter given must hold.
type AccountsWhere struct {
	Name       []string `json:"name,omitempty" yaml:"name,omitempty"`
	NameNot    []string `json:"name_not,omitempty" yaml:"name_not,omitempty"`
	UIDMin     *int64   `json:"uid_min,omitempty" yaml:"uid_min,omitempty"`
	UIDMax     *int64   `json:"uid_max,omitempty" yaml:"uid_max,omitempty"`
	GIDMin     *int64   `json:"gid_min,omitempty" yaml:"gid_min,omitempty"`
	GIDMax     *int64   `json:"gid_max,omitempty" yaml:"gid_max,omitempty"`
	Group      []string `json:"group,omitempty" yaml:"group,omitempty"`
	ShellLogin *bool    `json:"shell_login,omitempty" yaml:"shell_login,omitempty"`
	System     *bool    `json:"system,omitempty" yaml:"system,omitempty"`
	HasMembers *bool    `json:"has_members,omitempty" yaml:"has_members,omitempty"`
}

var (
	accountsUserFields  = []string{"name", "uid", "gid", "shell", "home", "password", "password_state", "group"}
	accountsGroupFields = []string{"name", "gid", "members", "password"}
)

const (
	passwdPath = "/etc/passwd"
	groupPath  = "/etc/group"
	shellsPath = "/etc/shells"
)

func (ps *parser) accountsCheck(n *yaml.Node, p string) *AccountsCheck {
	tests := []string{"unique", "field", "primary_group_exists", "home_exists", "home_owned", "home_group_owned", "empty"}
	fields := ps.fields(n, p, append(append([]string{"from", "where"}, tests...), valueTestKeys...))
	if fields == nil {
		return nil
	}
	c := &AccountsCheck{From: ps.requiredIn(n, fields, "from", p)}
	users := c.From == "users"
	if c.From != "" && c.From != "users" && c.From != "groups" {
		ps.add(ps.deref(fields["from"]), p+".from", "%q is not users or groups", c.From)
	}
	if v := fields["where"]; v != nil {
		c.Where = ps.accountsWhere(v, p+".where", c.From)
	}
	flag := func(key string, usersOnly bool) bool {
		b := ps.optBool(fields, key, p)
		if b == nil {
			return false
		}
		if !*b {
			ps.add(ps.deref(fields[key]), join(p, key), "only true is meaningful; leave it out otherwise")
		}
		if usersOnly && c.From == "groups" {
			ps.add(ps.deref(fields[key]), join(p, key), "only applies to from: users")
		}
		return *b
	}
	c.PrimaryGroupExists = flag("primary_group_exists", true)
	c.HomeExists = flag("home_exists", true)
	c.HomeOwned = flag("home_owned", true)
	c.HomeGroupOwned = flag("home_group_owned", true)
	c.Empty = flag("empty", false)
	if v := fields["unique"]; v != nil {
		if s, ok := ps.str(v, p+".unique"); ok {
			c.Unique = s
			allowed := []string{"name", "gid"}
			if users || c.From == "" {
				allowed = []string{"name", "uid", "gid"}
			}
			if !contains(allowed, s) {
				ps.add(ps.deref(v), p+".unique", "%q is not one of %s", s, strings.Join(allowed, ", "))
			}
		}
	}
	if v := fields["field"]; v != nil {
		if s, ok := ps.str(v, p+".field"); ok {
			c.Field = s
			allowed := accountsGroupFields
			if users || c.From == "" {
				allowed = accountsUserFields
			}
			if !contains(allowed, s) {
				ps.add(ps.deref(v), p+".field", "%q is not one of %s", s, strings.Join(allowed, ", "))
			}
		}
	}
	c.ValueTest = ps.valueTest(fields, p)
	switch {
	case c.Field != "" && c.ValueTest.Empty():
		ps.add(ps.deref(fields["field"]), p+".field", "needs at least one of %s to judge it", strings.Join(valueTestKeys, ", "))
	case c.Field == "" && !c.ValueTest.Empty():
		ps.add(ps.deref(n), p+".field", "required with %s (which field to judge)", strings.Join(valueTestKeys, ", "))
	}
	var given []string
	for _, k := range tests {
		if fields[k] != nil {
			given = append(given, k)
		}
	}
	switch {
	case len(given) == 0:
		ps.add(ps.deref(n), p, "needs at least one of %s", strings.Join(tests, ", "))
	case c.Empty && len(given) > 1:
		ps.add(ps.deref(fields["empty"]), p+".empty", "empty: true cannot be combined with %s", strings.Join(given[:len(given)-1], ", "))
	}
	return c
}

func (ps *parser) accountsWhere(n *yaml.Node, p, from string) AccountsWhere {
	keys := []string{"name", "name_not", "uid_min", "uid_max", "gid_min", "gid_max", "group", "shell_login", "system", "has_members"}
	fields := ps.fields(n, p, keys)
	var w AccountsWhere
	if fields == nil {
		return w
	}
	usersOnly := map[string]bool{"uid_min": true, "uid_max": true, "group": true, "shell_login": true, "system": true}
	for k, v := range fields {
		if from == "groups" && usersOnly[k] {
			ps.add(ps.deref(v), join(p, k), "only applies to from: users")
		}
		if from == "users" && k == "has_members" {
			ps.add(ps.deref(v), join(p, k), "only applies to from: groups")
		}
	}
	list := func(key string) []string {
		v := fields[key]
		if v == nil {
			return nil
		}
		l, _ := ps.strs(v, join(p, key))
		if l != nil && len(l) == 0 {
			ps.add(ps.deref(v), join(p, key), "must list at least one name")
		}
		return l
	}
	num := func(key string) *int64 {
		v := fields[key]
		if v == nil {
			return nil
		}
		i, ok := ps.integer(v, join(p, key))
		if !ok {
			return nil
		}
		if i < 0 {
			ps.add(ps.deref(v), join(p, key), "must not be negative")
		}
		n := int64(i)
		return &n
	}
	w.Name = list("name")
	w.NameNot = list("name_not")
	w.Group = list("group")
	w.UIDMin, w.UIDMax = num("uid_min"), num("uid_max")
	w.GIDMin, w.GIDMax = num("gid_min"), num("gid_max")
	w.ShellLogin = ps.optBool(fields, "shell_login", p)
	w.System = ps.optBool(fields, "system", p)
	w.HasMembers = ps.optBool(fields, "has_members", p)
	return w
}

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name, password, home, shell string
	uid, gid                    int64
	uidText, gidText            string
	line                        int
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name, password string
	gid            int64
	gidText        string
	members        []string
	line           int
}

// acctDB is the checked system's account databases, as far as loaded.
type acctDB struct {
	users      []passwdEntry
	groups     []groupEntry
	userByName map[string]passwdEntry
	groupByGID map[int64]groupEntry
	// shells are /etc/shells' entries; uidMin is login.defs' UID_MIN.
	shells map[string]bool
	uidMin int64
	// malformed counts lines skipped as unreadable, per file.
	malformed map[string]int
}

// parsePasswd reads passwd(5): seven colon-separated fields. Comments,
// blank lines, NIS compat lines ("+", "-") and lines with a missing or
// non-numeric id are skipped and counted.
func parsePasswd(data []byte) (users []passwdEntry, malformed int) {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" || f[0][0] == '+' || f[0][0] == '-' {
			malformed++
			continue
		}
		uid, err1 := strconv.ParseInt(f[2], 10, 64)
		gid, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
			malformed++
			continue
		}
		// Ids are compared as numbers: "0" and "00" are the same uid.
		users = append(users, passwdEntry{name: f[0], password: f[1], uid: uid, gid: gid,
			uidText: strconv.FormatInt(uid, 10), gidText: strconv.FormatInt(gid, 10),
			home: f[5], shell: f[6], line: i + 1})
	}
	return users, malformed
}

// parseGroup reads group(5): four colon-separated fields, members
// comma-separated.
func parseGroup(data []byte) (groups []groupEntry, malformed int) {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 4 || f[0] == "" || f[0][0] == '+' || f[0][0] == '-' {
			malformed++
			continue
		}
		gid, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || gid < 0 {
			malformed++
			continue
		}
		var members []string
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		groups = append(groups, groupEntry{name: f[0], password: f[1], gid: gid, gidText: strconv.FormatInt(gid, 10), members: members, line: i + 1})
	}
	return groups, malformed
}

// parseShells reads shells(5): one absolute path a line, '#' comments.
// Without the file, getusershell(3) offers /bin/sh and /bin/csh.
func parseShells(data []byte, found bool) map[string]bool {
	if !found {
		return map[string]bool{"/bin/sh": true, "/bin/csh": true}
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "/") {
			out[line] = true
		}
	}
	return out
}

// loadAccounts reads passwd, shells, login.defs' UID_MIN and, when
// withGroups, group.
func loadAccounts(ctx context.Context, env Env, withGroups bool) (*acctDB, error) {
	db := &acctDB{userByName: map[string]passwdEntry{}, groupByGID: map[int64]groupEntry{}, malformed: map[string]int{}}
	data, found, err := readAccountFile(ctx, env, passwdPath)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: %w", passwdPath, ErrNotFound)
	}
	db.users, db.malformed[passwdPath] = parsePasswd(data)
	for _, u := range db.users {
		if _, dup := db.userByName[u.name]; !dup { // getpwnam: first entry wins
			db.userByName[u.name] = u
		}
	}
	if withGroups {
		if data, found, err = readAccountFile(ctx, env, groupPath); err != nil {
			return nil, err
		} else if !found {
			return nil, fmt.Errorf("%s: %w", groupPath, ErrNotFound)
		}
		db.groups, db.malformed[groupPath] = parseGroup(data)
		for _, g := range db.groups {
			if _, dup := db.groupByGID[g.gid]; !dup { // getgrgid: first entry wins
				db.groupByGID[g.gid] = g
			}
		}
	}
	if data, found, err = readAccountFile(ctx, env, shellsPath); err != nil {
		return nil, err
	}
	db.shells = parseShells(data, found)
	defs, dfound, err := loginDefs(ctx, env)
	if err != nil {
		return nil, err
	}
	db.uidMin = 1000
	if v, _ := loginDefsValue(defs, dfound, "UID_MIN"); v != nil {
		if n, err := strconv.ParseInt(*v, 10, 64); err == nil {
			db.uidMin = n
		}
	}
	return db, nil
}

// loginShell: the account's shell (an empty field means /bin/sh, as
// login(1) reads it) is listed in /etc/shells and is not a nologin
// program.
func (db *acctDB) loginShell(u passwdEntry) bool {
	sh := u.shell
	if sh == "" {
		sh = "/bin/sh"
	}
	return db.shells[sh] && path.Base(sh) != "nologin"
}

// system: a uid below login.defs' UID_MIN, or the overflow account
// nobody (65534).
func (db *acctDB) system(u passwdEntry) bool { return u.uid < db.uidMin || u.uid == 65534 }

// interactive: root, or a uid at or above UID_MIN that is not nobody;
// and a login shell.
func (db *acctDB) interactive(u passwdEntry) bool {
	return (u.uid == 0 || !db.system(u)) && db.loginShell(u)
}

// acctRecord is one selected passwd or group record, uniformly.
type acctRecord struct {
	name string
	user *passwdEntry
	grp  *groupEntry
	file string
	line int
}

func (r acctRecord) where() string { return fmt.Sprintf("%s:%d", r.file, r.line) }

func (c *AccountsCheck) selectRecords(db *acctDB) []acctRecord {
	w := c.Where
	in := func(n int64, lo, hi *int64) bool { return (lo == nil || n >= *lo) && (hi == nil || n <= *hi) }
	named := func(name string) bool {
		return (w.Name == nil || contains(w.Name, name)) && !contains(w.NameNot, name)
	}
	var out []acctRecord
	if c.From == "groups" {
		for i := range db.groups {
			g := &db.groups[i]
			if !named(g.name) || !in(g.gid, w.GIDMin, w.GIDMax) {
				continue
			}
			if w.HasMembers != nil && (len(g.members) > 0) != *w.HasMembers {
				continue
			}
			out = append(out, acctRecord{name: g.name, grp: g, file: groupPath, line: g.line})
		}
		return out
	}
	for i := range db.users {
		u := &db.users[i]
		if !named(u.name) || !in(u.uid, w.UIDMin, w.UIDMax) || !in(u.gid, w.GIDMin, w.GIDMax) {
			continue
		}
		if w.Group != nil && !contains(w.Group, db.groupByGID[u.gid].name) {
			continue
		}
		if w.ShellLogin != nil && db.loginShell(*u) != *w.ShellLogin {
			continue
		}
		if w.System != nil && db.system(*u) != *w.System {
			continue
		}
		out = append(out, acctRecord{name: u.name, user: u, file: passwdPath, line: u.line})
	}
	return out
}

// value is a record's field as text; ok is false when it has none (a
// user without a shadow entry for password_state).
func (r acctRecord) value(field string, db *acctDB, states map[string]string) (string, bool) {
	if r.grp != nil {
		switch field {
		case "name":
			return r.grp.name, true
		case "gid":
			return r.grp.gidText, true
		case "members":
			return strings.Join(r.grp.members, ","), true
		case "password":
			return r.grp.password, true
		}
		return "", false
	}
	u := r.user
	switch field {
	case "name":
		return u.name, true
	case "uid":
		return u.uidText, true
	case "gid":
		return u.gidText, true
	case "shell":
		return u.shell, true
	case "home":
		return u.home, true
	case "password":
		return u.password, true
	case "group":
		g, ok := db.groupByGID[u.gid]
		return g.name, ok
	case "password_state":
		s, ok := states[u.name]
		return s, ok
	}
	return "", false
}

func accountsLeaf(ctx context.Context, env Env, c *AccountsCheck) (bool, string, error) {
	db, err := loadAccounts(ctx, env, true)
	if err != nil {
		return false, "", err
	}
	recs := c.selectRecords(db)
	file := passwdPath
	what := "users"
	if c.From == "groups" {
		file, what = groupPath, "groups"
	}
	var notes []string
	if n := db.malformed[file]; n > 0 {
		notes = append(notes, fmt.Sprintf("%d malformed lines of %s skipped", n, file))
	}
	var failed, passed []string
	if c.Empty {
		if len(recs) == 0 {
			return true, joinNotes(fmt.Sprintf("no %s selected in %s", what, file), notes), nil
		}
		for _, r := range recs {
			failed = append(failed, fmt.Sprintf("%s (%s)", r.name, r.where()))
		}
		return false, joinNotes(fmt.Sprintf("%d %s selected, want none: %s", len(recs), what, listNames(failed)), notes), nil
	}
	// Names listed in where.name must exist (and pass the other filters).
	for _, n := range c.Where.Name {
		found := false
		for _, r := range recs {
			found = found || r.name == n
		}
		if !found {
			failed = append(failed, fmt.Sprintf("%s: no such %s selected in %s", n, strings.TrimSuffix(what, "s"), file))
		}
	}
	if c.Unique != "" {
		first := map[string]acctRecord{}
		for _, r := range recs {
			v, _ := r.value(c.Unique, db, nil)
			if f, dup := first[v]; dup {
				failed = append(failed, fmt.Sprintf("%s %s shared by %s (%s) and %s (%s)", c.Unique, v, f.name, f.where(), r.name, r.where()))
				continue
			}
			first[v] = r
		}
		if len(failed) == 0 {
			passed = append(passed, fmt.Sprintf("%s unique among %d %s", c.Unique, len(recs), what))
		}
	}
	if c.Field != "" {
		var states map[string]string
		if c.Field == "password_state" {
			data, found, err := readAccountFile(ctx, env, shadowPath)
			if err != nil {
				return false, "", err
			}
			if !found {
				return false, "", fmt.Errorf("%s: %w", shadowPath, ErrNotFound)
			}
			states = map[string]string{}
			entries, _ := parseShadow(data)
			for _, e := range entries {
				states[e.name] = passwordState(e.fields[1])
			}
		}
		var good []string
		for _, r := range recs {
			v, ok := r.value(c.Field, db, states)
			var got *string
			if ok {
				got = &v
			}
			okv, d, err := c.ValueTest.Test(ctx, got)
			if err != nil {
				return false, "", err
			}
			if okv {
				good = append(good, r.name)
			} else {
				failed = append(failed, fmt.Sprintf("%s %s %s (%s)", r.name, c.Field, d, r.where()))
			}
		}
		if len(good) > 0 {
			passed = append(passed, fmt.Sprintf("%s passes for %s", c.Field, listNames(good)))
		}
	}
	if c.PrimaryGroupExists {
		n := 0
		for _, r := range recs {
			if _, ok := db.groupByGID[r.user.gid]; !ok {
				failed = append(failed, fmt.Sprintf("%s: primary gid %d is not in %s (%s)", r.name, r.user.gid, groupPath, r.where()))
			} else {
				n++
			}
		}
		passed = append(passed, fmt.Sprintf("%d users' primary groups exist", n))
	}
	if c.HomeExists || c.HomeOwned || c.HomeGroupOwned {
		n := 0
		for _, r := range recs {
			msg, err := c.homeProblem(ctx, env, r)
			if err != nil {
				return false, "", err
			}
			if msg != "" {
				failed = append(failed, msg)
			} else {
				n++
			}
		}
		passed = append(passed, fmt.Sprintf("%d home directories checked", n))
	}
	if len(failed) > 0 {
		return false, joinNotes(strings.Join(failed, "; "), notes), nil
	}
	if len(recs) == 0 {
		passed = []string{fmt.Sprintf("no %s selected in %s", what, file)}
	}
	return true, joinNotes(strings.Join(passed, "; "), notes), nil
}

// homeProblem describes what is wrong with r's home directory, "" if
// nothing.
func (c *AccountsCheck) homeProblem(ctx context.Context, env Env, r acctRecord) (string, error) {
	u := r.user
	if u.home == "" || !strings.HasPrefix(u.home, "/") {
		return fmt.Sprintf("%s: home %q is not an absolute path (%s)", u.name, u.home, r.where()), nil
	}
	st, err := env.Stat(ctx, u.home)
	if errors.Is(err, ErrNotFound) {
		return fmt.Sprintf("%s: home %s does not exist", u.name, u.home), nil
	}
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", u.home, err)
	}
	if !st.Mode.IsDir() {
		return fmt.Sprintf("%s: home %s is not a directory", u.name, u.home), nil
	}
	if c.HomeOwned && st.OwnerID != u.uidText {
		return fmt.Sprintf("%s: home %s owned by uid %s, want %s", u.name, u.home, st.OwnerID, u.uidText), nil
	}
	if c.HomeGroupOwned {
		if st.GroupID == "" {
			return "", fmt.Errorf("%s: the group owning a file is not known here: %w", u.home, ErrUnavailable)
		}
		if st.GroupID != u.gidText {
			return fmt.Sprintf("%s: home %s group gid %s, want %s", u.name, u.home, st.GroupID, u.gidText), nil
		}
	}
	return "", nil
}

func joinNotes(s string, notes []string) string {
	if len(notes) == 0 {
		return s
	}
	return s + " (" + strings.Join(notes, "; ") + ")"
}
