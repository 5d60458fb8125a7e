package check

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// evalFind evaluates one find check (YAML flow syntax) against env.
func evalFind(t *testing.T, env policy.Env, check string) policy.Result {
	t.Helper()
	ps, err := policy.Parse(t.Name()+".yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: {find: "+check+"}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return policy.Evaluate(context.Background(), ps[0], env)
}

// TestFindLeafOnTree runs find checks through the parser and evaluator
// against a real tree, walked by the live Env under a root.
func TestFindLeafOnTree(t *testing.T) {
	root := scanTree(t)
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{})
	cases := []struct {
		name, check string
		want        policy.Status
		detail      string // regexp on the evidence
	}{
		{"world-writable files", `{paths: [/data], type: file, world_writable: true}`, policy.StatusFail,
			`^scanned 14 entries under /data in [0-9.]+[mµn]?s; 3 offenders \(max_matches 0\): /data/skip/ww-hidden \(mode 0666, owner root, group root\), /data/tmp/inner.txt \(mode 0646, owner root, group root\), /data/ww.txt \(mode 0666, owner root, group root\)$`},
		{"excluded", `{paths: [/data], type: file, world_writable: true, exclude: [/data/skip, /data/tmp], max_matches: 1}`, policy.StatusPass,
			`1 offender \(max_matches 1\): /data/ww.txt \(mode 0666, owner root, group root\); skipped: 2 excluded paths or mounts$`},
		{"world-writable dirs without sticky", `{paths: [/data], type: dir, world_writable: true, sticky: false}`, policy.StatusFail,
			`1 offender \(max_matches 0\): /data/wwdir \(dir, mode 0777, owner root, group root\)$`},
		{"suid", `{paths: [/], suid: true}`, policy.StatusFail, `1 offender \(max_matches 0\): /data/suid \(mode 4755`},
		{"sgid", `{paths: [/], sgid: true, report: 0}`, policy.StatusFail, `; 1 offender \(max_matches 0\)$`},
		{"unowned", `{paths: [/], no_owner: true}`, policy.StatusFail,
			`1 offender \(max_matches 0\): /data/orphan \(mode 0644, owner uid 4242 \(no account\), group gid 4343 \(no group\)\)$`},
		{"ungrouped", `{paths: [/home], no_group: true}`, policy.StatusPass, `no offenders$`},
		{"depth", `{paths: [/data], world_writable: true, type: file, max_depth: 1}`, policy.StatusFail, `; 1 offender .*/data/ww.txt`},
		{"netrc in homes", `{home_dirs: true, name: .netrc, max_depth: 1}`, policy.StatusFail,
			`^scanned 5 entries under 3 home directories .*2 offenders \(max_matches 0\): /home/alice/.netrc \(mode 0600, owner root, group root\), /home/bob/.netrc \(mode 0644, owner root, group root\); skipped: 1 missing root$`},
		{"not home owner", `{home_dirs: true, not_home_owner: true, type: file}`, policy.StatusFail,
			`2 offenders \(max_matches 0\): /home/alice/.netrc \(.*\), /home/bob/.netrc`},
		{"owner_not", `{paths: [/home/alice], owner_not: [alice, "0"]}`, policy.StatusPass, `no offenders`},
		{"mode_over", `{paths: [/home], type: file, mode_over: "0640"}`, policy.StatusFail,
			`2 offenders \(max_matches 0\): /home/alice/.bashrc \(mode 0644, owner alice, group alice\), /home/bob/.netrc`},
		{"max_entries", `{paths: [/], name: "*", max_entries: 5}`, policy.StatusError, ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := evalFind(t, env, c.check)
			if r.Status != c.want || len(r.Evidence) != 1 {
				t.Fatalf("status %s (want %s), error %q, evidence %+v", r.Status, c.want, r.Error, r.Evidence)
			}
			if !regexp.MustCompile(c.detail).MatchString(r.Evidence[0].Detail) {
				t.Errorf("evidence %q\nwant it to match %s", r.Evidence[0].Detail, c.detail)
			}
		})
	}
}

// TestFindMaxEntriesError: the entry limit's error names where it
// stopped.
func TestFindMaxEntriesError(t *testing.T) {
	root := scanTree(t)
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{})
	r := evalFind(t, env, `{paths: [/data], world_writable: true, max_entries: 3}`)
	if r.Status != policy.StatusError || !strings.Contains(r.Error, "stopped at max_entries 3 in /data") {
		t.Errorf("status %s, error %q", r.Status, r.Error)
	}
}

// TestFindLiveMachine scans this machine's /etc and /usr/bin, whose
// Debian packages install known set-uid programs.
func TestFindLiveMachine(t *testing.T) {
	if _, err := os.Stat("/usr/bin/passwd"); err != nil {
		t.Fatalf("this test needs the Debian machine with passwd installed: %v", err)
	}
	env := NewEnv(context.Background(), Config{}, inventory.Document{})
	r := evalFind(t, env, `{paths: [/usr/bin], type: file, suid: true, max_matches: 1000, report: 100}`)
	if r.Status != policy.StatusPass || !strings.Contains(r.Evidence[0].Detail, "/usr/bin/passwd (mode 4755, owner root, group root)") {
		t.Errorf("status %s %s, evidence %+v", r.Status, r.Error, r.Evidence)
	}
	r = evalFind(t, env, `{paths: [/etc], type: file, name: shadow, max_depth: 1, group_not: [shadow]}`)
	if r.Status != policy.StatusPass || !strings.Contains(r.Evidence[0].Detail, "no offenders") {
		t.Errorf("shadow's group: status %s %s, evidence %+v", r.Status, r.Error, r.Evidence)
	}
}

// TestFindNewKeysOnTree: max_depth 0, name_not and not_home_group against
// a real tree under a root, with the image's own passwd and group files.
func TestFindNewKeysOnTree(t *testing.T) {
	root := scanTree(t)
	// bob's home and .netrc and alice's .netrc are root:root; give alice a
	// file of group adm (gid 4), not her primary group 1000.
	if err := os.WriteFile(root+"/home/alice/.adm-notes", []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(root+"/home/alice/.adm-notes", 1000, 4); err != nil {
		t.Fatal(err)
	}
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{})
	cases := []struct {
		name, check string
		want        policy.Status
		detail      string
	}{
		{"home directories' own mode", `{home_dirs: true, max_depth: 0, mode_over: "0750"}`, policy.StatusFail,
			`^scanned 2 entries under 3 home directories .*; 1 offender \(max_matches 0\): /home/bob \(dir, mode 0755, owner root, group root\); skipped: 1 missing root$`},
		{"not_home_group", `{home_dirs: true, not_home_group: true, name: ".*"}`, policy.StatusFail,
			`; 3 offenders \(max_matches 0\): /home/alice/.adm-notes \(mode 0640, owner alice, group adm\), /home/alice/.netrc \(mode 0600, owner root, group root\), /home/bob/.netrc \(mode 0644, owner root, group root\); skipped: 1 missing root$`},
		{"name_not", `{paths: [/data], type: file, world_writable: true, name_not: ["ww*", "inner.*"]}`, policy.StatusPass, `; no offenders$`},
		{"name_not keeps descending", `{paths: [/data], type: file, world_writable: true, name_not: [skip, tmp, "*.txt"]}`, policy.StatusFail,
			`; 1 offender \(max_matches 0\): /data/skip/ww-hidden \(mode 0666, owner root, group root\)$`},
		{"excluded root", `{paths: [/data/tmp], world_writable: true, exclude: [/data]}`, policy.StatusPass,
			`^scanned 0 entries under /data/tmp .*; no offenders; skipped: 1 excluded path or mount$`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := evalFind(t, env, c.check)
			if r.Status != c.want || len(r.Evidence) != 1 {
				t.Fatalf("status %s (want %s), error %q, evidence %+v", r.Status, c.want, r.Error, r.Evidence)
			}
			if !regexp.MustCompile(c.detail).MatchString(r.Evidence[0].Detail) {
				t.Errorf("evidence %q\nwant it to match %s", r.Evidence[0].Detail, c.detail)
			}
		})
	}
}
