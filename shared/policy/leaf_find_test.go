package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// walkEnv is a fake Walker: it streams entries (whose paths are absolute
// and whose roots are those of the spec they lie under), honouring the
// spec's depth and excludes, calling onVisit before each.
type walkEnv struct {
	*fakeEnv
	entries []WalkEntry
	stats   WalkStats
	homes   []HomeDir
	onVisit func(ctx context.Context, n int)
	gotSpec WalkSpec
}

func (w *walkEnv) Walk(ctx context.Context, spec WalkSpec, visit func(*WalkEntry) error) (WalkStats, error) {
	w.gotSpec = spec
	st := w.stats
	n := 0
	for _, root := range spec.Roots {
		for _, e := range w.entries {
			p := e.Path()
			prefix := strings.TrimSuffix(root, "/") + "/"
			if p != root && !strings.HasPrefix(p, prefix) {
				continue
			}
			depth := 0
			if p != root {
				depth = 1 + strings.Count(strings.TrimPrefix(p, prefix), "/")
			}
			if spec.MaxDepth != nil && depth > *spec.MaxDepth {
				continue
			}
			excluded := false
			for _, x := range spec.Exclude {
				excluded = excluded || p == x || strings.HasPrefix(p, x+"/")
			}
			if excluded {
				continue
			}
			if w.onVisit != nil {
				w.onVisit(ctx, n)
			}
			n++
			if err := ctx.Err(); err != nil {
				return st, err
			}
			e.Root, e.Depth = root, depth
			st.Entries++
			if err := visit(&e); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

func (w *walkEnv) HomeDirs(ctx context.Context) ([]HomeDir, error) { return w.homes, nil }

// ent builds an entry; owner/group "" means no account.
func ent(p string, mode fs.FileMode, uid uint32, owner string, gid uint32, group string) WalkEntry {
	return WalkEntry{Dir: path.Dir(p), Name: path.Base(p), Mode: mode, HasIDs: true, UID: uid, Owner: owner, GID: gid, Group: group}
}

func findFixture(t *testing.T) *walkEnv {
	return &walkEnv{
		fakeEnv: newFakeEnv(t, "debian12.json"),
		entries: []WalkEntry{
			ent("/tmp", fs.ModeDir|fs.ModeSticky|0o777, 0, "root", 0, "root"),
			ent("/tmp/x", 0o666, 1000, "alice", 1000, "alice"),
			ent("/var/tmp/y", 0o777, 4242, "", 4343, ""),
			ent("/var/shared", fs.ModeDir|0o777, 0, "root", 0, "root"),
			ent("/var/link", fs.ModeSymlink|0o777, 0, "root", 0, "root"),
			ent("/usr/bin/passwd", fs.ModeSetuid|0o755, 0, "root", 0, "root"),
			ent("/usr/bin/wall", fs.ModeSetgid|0o755, 0, "root", 5, "tty"),
			ent("/home/alice/.netrc", 0o600, 1000, "alice", 1000, "alice"),
			ent("/home/alice/.profile", 0o644, 0, "root", 0, "root"),
			ent("/home/bob/.netrc", 0o644, 1001, "bob", 1001, "bob"),
		},
		homes: []HomeDir{{"alice", 1000, 1000, "/home/alice"}, {"bob", 1001, 1001, "/home/bob"}},
	}
}

func TestFindLeaf(t *testing.T) {
	cases := []struct {
		name, check string
		want        Status
		detail      string // the evidence after "scanned N entries under ... in D; "
	}{
		{"world-writable files", `{paths: [/], type: file, world_writable: true}`, StatusFail,
			"2 offenders (max_matches 0): /tmp/x (mode 0666, owner alice, group alice), /var/tmp/y (mode 0777, owner uid 4242 (no account), group gid 4343 (no group))"},
		{"links are never world-writable", `{paths: [/var], world_writable: true, type: any}`, StatusFail,
			"2 offenders (max_matches 0): /var/shared (dir, mode 0777, owner root, group root), /var/tmp/y (mode 0777, owner uid 4242 (no account), group gid 4343 (no group))"},
		{"world-writable dirs without sticky", `{paths: [/], type: dir, world_writable: true, sticky: false}`, StatusFail,
			"1 offender (max_matches 0): /var/shared (dir, mode 0777, owner root, group root)"},
		{"within max_matches", `{paths: [/], type: file, world_writable: true, max_matches: 2}`, StatusPass,
			"2 offenders (max_matches 2): /tmp/x (mode 0666, owner alice, group alice), /var/tmp/y (mode 0777, owner uid 4242 (no account), group gid 4343 (no group))"},
		{"report limits the list", `{paths: [/], suid: false, sgid: false, report: 1}`, StatusFail,
			"8 offenders (max_matches 0): /home/alice/.netrc (mode 0600, owner alice, group alice) and 7 more"},
		{"suid", `{paths: [/usr], suid: true}`, StatusFail, "1 offender (max_matches 0): /usr/bin/passwd (mode 4755, owner root, group root)"},
		{"sgid", `{paths: [/usr], sgid: true, group_not: [tty]}`, StatusPass, "no offenders"},
		{"unowned or ungrouped", `{paths: [/], no_owner: true, no_group: true}`, StatusFail,
			"1 offender (max_matches 0): /var/tmp/y (mode 0777, owner uid 4242 (no account), group gid 4343 (no group))"},
		{"owner_not by name and id", `{paths: [/usr, /tmp], owner_not: [root, "1000"]}`, StatusPass, "no offenders"},
		{"mode_over", `{paths: [/home], type: file, mode_over: "0600"}`, StatusFail,
			"2 offenders (max_matches 0): /home/alice/.profile (mode 0644, owner root, group root), /home/bob/.netrc (mode 0644, owner bob, group bob)"},
		{"name", `{paths: [/], name: ".net*"}`, StatusFail,
			"2 offenders (max_matches 0): /home/alice/.netrc (mode 0600, owner alice, group alice), /home/bob/.netrc (mode 0644, owner bob, group bob)"},
		{"depth", `{paths: [/home], name: ".netrc", max_depth: 1}`, StatusPass, "no offenders"},
		{"exclude", `{paths: [/], world_writable: true, type: file, exclude: [/var]}`, StatusFail,
			"1 offender (max_matches 0): /tmp/x (mode 0666, owner alice, group alice)"},
		{"home dirs", `{home_dirs: true, name: .netrc, max_depth: 1}`, StatusFail,
			"2 offenders (max_matches 0): /home/alice/.netrc (mode 0600, owner alice, group alice), /home/bob/.netrc (mode 0644, owner bob, group bob)"},
		{"not home owner", `{home_dirs: true, not_home_owner: true}`, StatusFail,
			"1 offender (max_matches 0): /home/alice/.profile (mode 0644, owner root, group root)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := findFixture(t)
			r := Evaluate(context.Background(), onePolicy(t, "{find: "+c.check+"}"), env)
			if r.Status != c.want || len(r.Evidence) != 1 {
				t.Fatalf("status %s (want %s) %s, evidence:\n%s", r.Status, c.want, r.Error, evidenceText(r.Evidence))
			}
			_, detail, _ := strings.Cut(r.Evidence[0].Detail, "; ")
			if !strings.HasPrefix(r.Evidence[0].Detail, "scanned ") || detail != c.detail {
				t.Errorf("evidence %q\nwant ...; %q", r.Evidence[0].Detail, c.detail)
			}
		})
	}
}

func TestFindLeafSpecAndSkips(t *testing.T) {
	env := findFixture(t)
	env.stats = WalkStats{Unreadable: 2, Vanished: 1, Loops: 1, Pruned: 3}
	r := Evaluate(context.Background(), onePolicy(t, `{find: {paths: [/usr], suid: true, max_matches: 1, same_filesystem: true}}`), env)
	want := "scanned 2 entries under /usr in "
	if r.Status != StatusPass || !strings.HasPrefix(r.Evidence[0].Detail, want) ||
		!strings.HasSuffix(r.Evidence[0].Detail, "; skipped: 2 unreadable directories, 1 entry that vanished while scanned, 1 directory loop, 3 excluded paths or mounts") {
		t.Errorf("status %s, evidence %q", r.Status, r.Evidence[0].Detail)
	}
	if !env.gotSpec.SameFilesystem || strings.Join(env.gotSpec.ExcludeFSTypes, ",") != strings.Join(DefaultExcludeFSTypes, ",") {
		t.Errorf("spec %+v", env.gotSpec)
	}
	Evaluate(context.Background(), onePolicy(t, `{find: {paths: [/usr], suid: true, exclude_fstypes: [nfs]}}`), env)
	if strings.Join(env.gotSpec.ExcludeFSTypes, ",") != "nfs" {
		t.Errorf("exclude_fstypes not passed on: %+v", env.gotSpec)
	}
	// An empty list excludes nothing, also after the JSON trip to agents.
	p := onePolicy(t, `{find: {paths: [/usr], suid: true, exclude_fstypes: []}}`)
	data, err := json.Marshal([]Policy{p})
	if err != nil {
		t.Fatal(err)
	}
	var back []Policy
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if err := Validate("set", back); err != nil || !reflect.DeepEqual(back[0], p) {
		t.Fatalf("round trip %s: %v", data, err)
	}
	Evaluate(context.Background(), back[0], env)
	if env.gotSpec.ExcludeFSTypes == nil || len(env.gotSpec.ExcludeFSTypes) != 0 {
		t.Errorf("exclude_fstypes: [] became %v", env.gotSpec.ExcludeFSTypes)
	}
}

func TestFindLeafStops(t *testing.T) {
	env := findFixture(t)
	r := Evaluate(context.Background(), onePolicy(t, `{find: {paths: [/], world_writable: true, max_entries: 4}}`), env)
	if r.Status != StatusError || !strings.Contains(r.Error, "stopped at max_entries 4 in /var") ||
		!strings.HasPrefix(r.Evidence[0].Detail, "error: find: stopped at max_entries 4 in /var; scanned 5 entries under / in ") ||
		!strings.HasSuffix(r.Evidence[0].Detail, "; stopped in /var") {
		t.Errorf("max_entries: status %s, error %q, evidence %+v", r.Status, r.Error, r.Evidence)
	}
	// The deadline: the walk is cancelled from inside, as a timeout
	// would, after three entries.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.onVisit = func(_ context.Context, n int) {
		if n == 3 {
			cancel()
		}
	}
	p := onePolicy(t, `{find: {paths: [/], world_writable: true, timeout: 5m}}`)
	ok, detail, err := findLeaf(ctx, env, p.Check.Find)
	if ok || !errors.Is(err, context.Canceled) || err.Error() != "find: stopped (context canceled) after 3 entries in /var/tmp" ||
		!strings.HasPrefix(detail, "scanned 3 entries under / in ") || !strings.HasSuffix(detail, "; stopped in /var/tmp") {
		t.Errorf("cancelled: %t, %v, %q", ok, err, detail)
	}
}

func TestFindTimeout(t *testing.T) {
	for check, want := range map[string]time.Duration{
		`{paths: [/], suid: true}`:               DefaultFindTimeout,
		`{paths: [/], suid: true, timeout: 10m}`: 10 * time.Minute,
		`{paths: [/], suid: true, timeout: 90s}`: 90 * time.Second,
	} {
		p := onePolicy(t, "{find: "+check+"}")
		if got := findTimeout(p.Check.Find); got != want {
			t.Errorf("%s: timeout %s, want %s", check, got, want)
		}
	}
}

func TestFindLeafUnavailable(t *testing.T) {
	// The server's Env (stored inventory) has no walker.
	env := newFakeEnv(t, "debian12.json")
	r := Evaluate(context.Background(), onePolicy(t, `{find: {paths: [/], suid: true}}`), env)
	if r.Status != StatusError || !strings.Contains(r.Error, "not available here") {
		t.Errorf("status %s, error %q", r.Status, r.Error)
	}
}

func TestFindCheckValidation(t *testing.T) {
	cases := []struct{ check, problem string }{
		{`{suid: true}`, "check.find: needs paths or home_dirs: true"},
		{`{paths: [/], home_dirs: true, suid: true}`, "check.find.home_dirs: paths and home_dirs are exclusive"},
		{`{paths: [tmp], suid: true}`, `check.find.paths[0]: "tmp" must be an absolute path`},
		{`{paths: [], suid: true}`, "check.find.paths: must list at least one path"},
		{`{paths: [/]}`, "check.find: needs at least one of name, name_not, world_writable, sticky, suid, sgid, no_owner, no_group, owner_not, group_not, not_home_owner, not_home_group, mode_over"},
		{`{paths: [/], name: "a/b"}`, `check.find.name: "a/b" is not a valid glob on a base name: a base name has no "/"`},
		{`{paths: [/], name: "[x"}`, `check.find.name: "[x" is not a valid glob on a base name: syntax error in pattern: the class at offset 0 is never closed with "]"`},
		{`{paths: [/], name: ""}`, `check.find.name: "" is not a valid glob on a base name: it is empty`},
		{`{paths: [/], name: 'a\'}`, `check.find.name: "a\\" is not a valid glob on a base name: syntax error in pattern: it ends in a lone "\"`},
		{`{paths: [/], name: "[]a]"}`, `the class at offset 0 is empty or starts with "]" (write \] for a literal ])`},
		{`{paths: [/var/log], name_not: ["*[bw]tmp[.-]?*"]}`,
			`check.find.name_not[0]: "*[bw]tmp[.-]?*" is not a valid glob on a base name: syntax error in pattern: in the class at offset 8 a "-" must join two characters (write \- for a literal -)`},
		{`{paths: [/var/log], name_not: "[-a]"}`, `check.find.name_not: "[-a]" is not a valid glob on a base name: syntax error in pattern: in the class at offset 0 a "-" must join`},
		{`{paths: [/var/log], name_not: []}`, "check.find.name_not: must list at least one glob"},
		{`{paths: [/var/log], name_not: [7, true]}`, "check.find.name_not[1]: must be a string, not a boolean"},
		{`{paths: [/], not_home_group: true}`, "check.find.not_home_group: needs home_dirs: true"},
		{`{paths: [/], not_home_group: "yes"}`, "check.find.not_home_group: must be true or false"},
		{`{paths: [/], suid: true, type: fifo}`, `check.find.type: "fifo" is not file, dir, symlink or any`},
		{`{paths: [/], suid: true, max_depth: -1}`, "check.find.max_depth: must not be negative (0 examines the roots only; leave it out for no limit)"},
		{`{paths: [/], suid: true, exclude: [proc]}`, `check.find.exclude[0]: "proc" must be an absolute path`},
		{`{paths: [/], not_home_owner: true}`, "check.find.not_home_owner: needs home_dirs: true"},
		{`{paths: [/], owner_not: []}`, "check.find.owner_not: must list at least one name"},
		{`{paths: [/], mode_over: "0999"}`, `check.find.mode_over: "0999" is not an octal mode`},
		{`{paths: [/], suid: true, report: 101}`, "check.find.report: 101 is outside 0..100"},
		{`{paths: [/], suid: true, timeout: 11m}`, "check.find.timeout: 11m0s is outside (0, 10m0s]"},
		{`{paths: [/], suid: true, timeout: soon}`, `check.find.timeout: "soon" is not a duration`},
		{`{paths: [/], suid: true, max_entries: 0}`, "check.find.max_entries: must be at least 1"},
		{`{paths: [/], suid: true, max_matches: -1}`, "check.find.max_matches: must not be negative"},
		{`{paths: [/], suid: true, colour: red}`, "colour"},
	}
	for _, c := range cases {
		_, err := Parse("f.yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check:\n      find: "+c.check+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.problem) || !strings.Contains(err.Error(), "f.yaml:6:") {
			t.Errorf("%s: got %v\nwant a problem at f.yaml:6 containing %q", c.check, err, c.problem)
		}
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 183442: "183,442", 5000000: "5,000,000", -1234: "-1,234"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestFindLeafNewKeys: max_depth 0, name_not and not_home_group, through
// the parser and Evaluate.
func TestFindLeafNewKeys(t *testing.T) {
	cases := []struct {
		name, check string
		want        Status
		detail      string
	}{
		// The home directories themselves: /home/bob is 0755, the roots
		// only are judged (bob's 0644 .netrc is below them).
		{"roots only", `{home_dirs: true, max_depth: 0, mode_over: "0750"}`, StatusFail,
			"1 offender (max_matches 0): /home/bob (dir, mode 0755, owner bob, group bob)"},
		{"roots only of paths", `{paths: [/var/log, /tmp], max_depth: 0, world_writable: true}`, StatusFail,
			"1 offender (max_matches 0): /tmp (dir, mode 1777, owner root, group root)"},
		{"unlimited when absent", `{paths: [/var/log], group_not: [adm, root]}`, StatusFail,
			"3 offenders (max_matches 0): /var/log/btmp.1 (mode 0660, owner root, group utmp), /var/log/private/app.log (mode 0640, owner root, group staff), /var/log/wtmp (mode 0664, owner root, group utmp)"},
		{"name_not list", `{paths: [/var/log], group_not: [adm, root], name_not: ["wtmp*", "btmp*", "lastlog*"]}`, StatusFail,
			"1 offender (max_matches 0): /var/log/private/app.log (mode 0640, owner root, group staff)"},
		{"name_not one glob, still descended", `{paths: [/var/log], group_not: [adm, root, utmp], name_not: priv*}`, StatusFail,
			"1 offender (max_matches 0): /var/log/private/app.log (mode 0640, owner root, group staff)"},
		{"name and name_not", `{paths: [/var/log], name: "*tmp*", name_not: "*.1", group_not: [root]}`, StatusFail,
			"1 offender (max_matches 0): /var/log/wtmp (mode 0664, owner root, group utmp)"},
		{"name_not on a root's base name", `{paths: [/var/log], max_depth: 0, name_not: log, group_not: [adm]}`, StatusPass, "no offenders"},
		// alice's .profile is root:root (not alice's group 1000), bob's
		// .bashrc is bob:staff; bob's .netrc is bob:bob.
		{"not_home_group", `{home_dirs: true, not_home_group: true, name: ".*"}`, StatusFail,
			"2 offenders (max_matches 0): /home/alice/.profile (mode 0644, owner root, group root), /home/bob/.bashrc (mode 0644, owner bob, group staff)"},
		{"not_home_group false", `{home_dirs: true, not_home_group: false, type: file}`, StatusFail,
			"3 offenders (max_matches 0): /home/alice/.netrc (mode 0600, owner alice, group alice), /home/bob/.netrc (mode 0644, owner bob, group bob), /home/bob/.ssh/id (mode 0600, owner bob, group bob)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := findFixture(t)
			env.entries = append(env.entries,
				ent("/home/alice", fs.ModeDir|0o750, 1000, "alice", 1000, "alice"),
				ent("/home/bob", fs.ModeDir|0o755, 1001, "bob", 1001, "bob"),
				ent("/home/bob/.bashrc", 0o644, 1001, "bob", 50, "staff"),
				ent("/home/bob/.ssh", fs.ModeDir|0o700, 1001, "bob", 1001, "bob"),
				ent("/home/bob/.ssh/id", 0o600, 1001, "bob", 1001, "bob"),
				ent("/var/log", fs.ModeDir|0o755, 0, "root", 0, "root"),
				ent("/var/log/syslog", 0o640, 0, "root", 4, "adm"),
				ent("/var/log/wtmp", 0o664, 0, "root", 43, "utmp"),
				ent("/var/log/btmp.1", 0o660, 0, "root", 43, "utmp"),
				ent("/var/log/private", fs.ModeDir|0o750, 0, "root", 0, "root"),
				ent("/var/log/private/app.log", 0o640, 0, "root", 50, "staff"),
			)
			r := Evaluate(context.Background(), onePolicy(t, "{find: "+c.check+"}"), env)
			if r.Status != c.want || len(r.Evidence) != 1 {
				t.Fatalf("status %s (want %s) %s, evidence:\n%s", r.Status, c.want, r.Error, evidenceText(r.Evidence))
			}
			_, detail, _ := strings.Cut(r.Evidence[0].Detail, "; ")
			if detail != c.detail {
				t.Errorf("evidence %q\nwant ...; %q", r.Evidence[0].Detail, c.detail)
			}
		})
	}
}

// TestFindMaxDepthZeroSurvivesJSON: agents receive policies as JSON; an
// explicit max_depth 0 (the roots only) must not become "unlimited".
func TestFindMaxDepthZeroSurvivesJSON(t *testing.T) {
	for check, want := range map[string]string{
		`{home_dirs: true, max_depth: 0, mode_over: "0750"}`: `"max_depth":0`,
		`{home_dirs: true, max_depth: 2, mode_over: "0750"}`: `"max_depth":2`,
		`{home_dirs: true, mode_over: "0750"}`:               "",
	} {
		p := onePolicy(t, "{find: "+check+"}")
		data, err := json.Marshal([]Policy{p})
		if err != nil {
			t.Fatal(err)
		}
		if (want == "") == strings.Contains(string(data), "max_depth") || !strings.Contains(string(data), want) {
			t.Errorf("%s: JSON %s, want %q", check, data, want)
		}
		var back []Policy
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if err := Validate("set", back); err != nil || !reflect.DeepEqual(back[0], p) {
			t.Fatalf("round trip %s: %v", data, err)
		}
		env := findFixture(t)
		Evaluate(context.Background(), back[0], env)
		got := "nil"
		if env.gotSpec.MaxDepth != nil {
			got = fmt.Sprint(*env.gotSpec.MaxDepth)
		}
		if wantSpec := strings.TrimPrefix(want, `"max_depth":`); (want == "" && got != "nil") || (want != "" && got != wantSpec) {
			t.Errorf("%s: the walk got max_depth %s", check, got)
		}
	}
}

// TestFindReportIsOrderIndependent: with more offenders than report,
// the first ones by path are listed whatever order the walk found them
// in (a parallel walk has no fixed order).
func TestFindReportIsOrderIndependent(t *testing.T) {
	env := findFixture(t)
	check := onePolicy(t, `{find: {paths: [/], suid: false, sgid: false, report: 3}}`)
	want := "8 offenders (max_matches 0): /home/alice/.netrc (mode 0600, owner alice, group alice), " +
		"/home/alice/.profile (mode 0644, owner root, group root), /home/bob/.netrc (mode 0644, owner bob, group bob) and 5 more"
	for i := 0; i < 2; i++ {
		r := Evaluate(context.Background(), check, env)
		if _, detail, _ := strings.Cut(r.Evidence[0].Detail, "; "); detail != want {
			t.Errorf("order %d: evidence %q\nwant ...; %q", i, r.Evidence[0].Detail, want)
		}
		slices.Reverse(env.entries)
	}
}
