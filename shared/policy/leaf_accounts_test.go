package policy

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// treeFiles loads a fixture tree under testdata/<dir> as fake files, each
// at its path relative to that directory ("/etc/passwd").
func treeFiles(t *testing.T, dir string) map[string]fakeFile {
	t.Helper()
	root := filepath.Join("testdata", dir)
	files := map[string]fakeFile{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := "/" + filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." {
				files[name] = fakeFile{mode: fs.ModeDir | 0o755, owner: "root", uid: "0"}
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[name] = fakeFile{data: string(data), mode: 0o644, owner: "root", uid: "0"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// gidEnv adds the owning group to a fakeEnv's Stat, by path.
type gidEnv struct {
	*fakeEnv
	gids map[string]string
}

func (g *gidEnv) Stat(ctx context.Context, p string) (FileStat, error) {
	st, err := g.fakeEnv.Stat(ctx, p)
	st.GroupID = g.gids[p]
	return st, err
}

// cfgLeafCase is one policy check evaluated against an Env.
type cfgLeafCase struct {
	name, check string
	want        Status
	detail      string
}

// runConfigLeafCases evaluates each case's check and compares the status
// and the single evidence entry's detail exactly.
func runConfigLeafCases(t *testing.T, env Env, kind string, cases []cfgLeafCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, "{"+kind+": "+c.check+"}"), env)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail || r.Evidence[0].Check != "check."+kind {
				t.Errorf("status %s, evidence:\n%swant %s, %q", r.Status, evidenceText(r.Evidence), c.want, c.detail)
			}
		})
	}
}

func accountsEnv(t *testing.T) Env {
	env := newFakeEnv(t, "debian12.json")
	env.files = treeFiles(t, "accounts")
	dir := fs.ModeDir | 0o750
	env.files["/root"] = fakeFile{mode: dir, uid: "0"}
	env.files["/home/alice"] = fakeFile{mode: dir, uid: "1000"}
	env.files["/home/bob"] = fakeFile{mode: dir, uid: "1001"}
	env.files["/home/carol"] = fakeFile{mode: dir, uid: "1000"}
	env.files["/home/erin"] = fakeFile{mode: 0o644, uid: "1004"}
	env.files["/usr/games"] = fakeFile{mode: dir, uid: "0"}
	return &gidEnv{fakeEnv: env, gids: map[string]string{"/root": "0", "/home/alice": "1000", "/home/bob": "0", "/home/carol": "4242"}}
}

func TestAccountsLeaf(t *testing.T) {
	runConfigLeafCases(t, accountsEnv(t), "accounts", []cfgLeafCase{
		// accounts_no_uid_except_zero: toor has uid 0 too.
		{"only root has uid 0", `{from: users, where: {uid_max: 0, name_not: [root]}, empty: true}`, StatusFail,
			"1 users selected, want none: toor (/etc/passwd:7) (1 malformed lines of /etc/passwd skipped)"},
		// toor's uid is written "00": ids compare as numbers.
		{"account_unique_id", `{from: users, unique: uid}`, StatusFail,
			"uid 0 shared by root (/etc/passwd:1) and toor (/etc/passwd:7) (1 malformed lines of /etc/passwd skipped)"},
		{"account_unique_name", `{from: users, unique: name}`, StatusFail,
			"name bob shared by bob (/etc/passwd:9) and bob (/etc/passwd:10) (1 malformed lines of /etc/passwd skipped)"},
		{"group_unique_id", `{from: groups, unique: gid}`, StatusFail, "gid 1001 shared by bob (/etc/group:9) and admins (/etc/group:10)"},
		{"group_unique_name", `{from: groups, unique: name}`, StatusPass, "name unique among 11 groups"},
		{"gid_passwd_group_same", `{from: users, where: {uid_min: 1000, uid_max: 1003}, primary_group_exists: true}`, StatusFail,
			"carol: primary gid 4242 is not in /etc/group (/etc/passwd:11) (1 malformed lines of /etc/passwd skipped)"},
		{"accounts_root_gid_zero", `{from: users, where: {name: [root]}, field: gid, equals: "0"}`, StatusPass,
			"gid passes for root (1 malformed lines of /etc/passwd skipped)"},
		{"named record must exist", `{from: users, where: {name: [admin]}, field: gid, equals: "0"}`, StatusFail,
			"admin: no such user selected in /etc/passwd (1 malformed lines of /etc/passwd skipped)"},
		{"groups_no_zero_gid_except_root", `{from: groups, where: {gid_max: 0, name_not: [root]}, empty: true}`, StatusPass,
			"no groups selected in /etc/group"},
		{"ensure_shadow_group_empty: members", `{from: groups, where: {name: [shadow], has_members: true}, empty: true}`, StatusFail,
			"1 groups selected, want none: shadow (/etc/group:4)"},
		{"ensure_shadow_group_empty: primary group", `{from: users, where: {group: [shadow]}, empty: true}`, StatusFail,
			"1 users selected, want none: erin (/etc/passwd:12) (1 malformed lines of /etc/passwd skipped)"},
		{"ensure_pam_wheel_group_empty", `{from: groups, where: {name: [sugroup], has_members: true}, empty: true}`, StatusPass,
			"no groups selected in /etc/group"},
		{"members field", `{from: groups, where: {name: [sugroup]}, field: members, matches: '^$'}`, StatusPass,
			"members passes for sugroup"},
		{"wheel has members", `{from: groups, where: {name: [wheel]}, field: members, matches: '^$'}`, StatusFail,
			`wheel members "alice,bob" (want matching "^$") (/etc/group:7)`},
		{"accounts_password_all_shadowed", `{from: users, field: password, equals: x}`, StatusFail,
			`erin password "y" (want = "x") (/etc/passwd:12) (1 malformed lines of /etc/passwd skipped)`},
		{"no_shelllogin_for_systemaccounts", `{from: users, where: {system: true, name_not: [root, sync, shutdown, halt]}, field: shell, matches: '/nologin$'}`, StatusFail,
			`games shell "/bin/bash" (want matching "/nologin$") (/etc/passwd:5); toor shell "/bin/bash" (want matching "/nologin$") (/etc/passwd:7) (1 malformed lines of /etc/passwd skipped)`},
		// carol's /bin/zsh is not in /etc/shells, and her password is usable.
		{"no_invalid_shell_accounts_unlocked", `{from: users, where: {shell_login: false, name_not: [root]}, field: password_state, one_of: [locked, none]}`, StatusFail,
			`carol password_state "hashed:yescrypt" (want one of ["locked" "none"]) (/etc/passwd:11) (1 malformed lines of /etc/passwd skipped)`},
		{"login-shell accounts locked", `{from: users, where: {shell_login: true}, field: password_state, one_of: [locked, none]}`, StatusFail,
			`games password_state "hashed:yescrypt" (want one of ["locked" "none"]) (/etc/passwd:5); alice password_state "hashed:yescrypt" (want one of ["locked" "none"]) (/etc/passwd:8); bob password_state "hashed:yescrypt" (want one of ["locked" "none"]) (/etc/passwd:9); bob password_state "hashed:yescrypt" (want one of ["locked" "none"]) (/etc/passwd:10) (1 malformed lines of /etc/passwd skipped)`},
		{"accounts_user_interactive_home_directory_exists", `{from: users, where: {uid_min: 1000, system: false, shell_login: true}, home_exists: true}`, StatusFail,
			"bob: home /home/bob2 does not exist; erin: home /home/erin is not a directory (1 malformed lines of /etc/passwd skipped)"},
		{"file_ownership_home_directories", `{from: users, where: {name: [alice, bob, carol]}, home_owned: true}`, StatusFail,
			"bob: home /home/bob2 does not exist; carol: home /home/carol owned by uid 1000, want 1003 (1 malformed lines of /etc/passwd skipped)"},
		{"file_groupownership_home_directories", `{from: users, where: {name: [root, alice]}, home_group_owned: true}`, StatusPass,
			"2 home directories checked (1 malformed lines of /etc/passwd skipped)"},
		{"group ownership wrong", `{from: users, where: {uid_min: 1001, uid_max: 1001}, home_group_owned: true}`, StatusFail,
			"bob: home /home/bob group gid 0, want 1001 (1 malformed lines of /etc/passwd skipped)"},
	})
}

func TestAccountsLeafErrors(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	env.files = treeFiles(t, "accounts")
	delete(env.files, "/etc/group")
	r := Evaluate(context.Background(), onePolicy(t, `{accounts: {from: groups, unique: gid}}`), env)
	if r.Status != StatusError || r.Error != "check.accounts: /etc/group: not found" {
		t.Errorf("missing group: %s %q", r.Status, r.Error)
	}
	// The fake's Stat has no group: the leaf says it cannot tell.
	env.files = treeFiles(t, "accounts")
	env.files["/root"] = fakeFile{mode: fs.ModeDir | 0o700, uid: "0"}
	r = Evaluate(context.Background(), onePolicy(t, `{accounts: {from: users, where: {name: [root]}, home_group_owned: true}}`), env)
	if r.Status != StatusError || !strings.Contains(r.Error, "/root: the group owning a file is not known here: not available here") {
		t.Errorf("no GroupID: %s %q", r.Status, r.Error)
	}
	// The server's inventory Env reads no files.
	inv := InventoryEnv(loadDoc(t, "debian12.json"), "")
	r = Evaluate(context.Background(), onePolicy(t, `{accounts: {from: users, unique: uid}}`), inv)
	if r.Status != StatusError || !strings.Contains(r.Error, "not available here") {
		t.Errorf("inventory env: %s %q", r.Status, r.Error)
	}
}

func readFixtureBytes(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
}
