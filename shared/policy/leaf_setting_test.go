package policy

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// settingRoot loads testdata/setting/root as a fake Linux file system.
func settingRoot(t *testing.T) *fakeEnv {
	t.Helper()
	files := map[string]fakeFile{}
	root := filepath.Join("testdata", "setting", "root")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files["/"+filepath.ToSlash(rel)] = fakeFile{data: string(data), mode: 0o644, owner: "root", uid: "0"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeEnv{platform: "linux", files: files}
}

// evalSetting evaluates one setting leaf (YAML flow syntax) in env.
func evalSetting(t *testing.T, env Env, check string) Result {
	t.Helper()
	return Evaluate(context.Background(), onePolicy(t, "{setting: "+check+"}"), env)
}

func wantSetting(t *testing.T, r Result, status Status, details ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %s, want %s (error %q)\n%s", r.Status, status, r.Error, evidenceText(r.Evidence))
		return
	}
	got := evidenceText(r.Evidence)
	for _, d := range details {
		if !strings.Contains(got, d) {
			t.Errorf("evidence lacks %q:\n%s", d, got)
		}
	}
}

func settingAssignText(as []settingAssign) string {
	var out []string
	for _, a := range as {
		v := "<reset>"
		if a.value != nil {
			v = fmt.Sprintf("%q", *a.value)
		}
		out = append(out, fmt.Sprintf("%s:%d=%s", a.file, a.line, v))
	}
	return strings.Join(out, " ")
}

func settingFixture(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "setting", "root", p))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The per-format parsers on the fixture files, line by line.
func TestSettingParsersOnFixtures(t *testing.T) {
	cases := []struct {
		name string
		got  []settingAssign
		want string
	}{
		// Only the uncommented Compress= in [Journal]; "#Storage=auto" is a comment.
		{"systemd main", parseSystemd("j", settingFixture(t, "etc/systemd/journald.conf"), "Journal", "Compress"), `j:19="yes"`},
		{"systemd commented", parseSystemd("j", settingFixture(t, "etc/systemd/journald.conf"), "Journal", "Storage"), ``},
		// Outside any section and in [Upload]: not [Journal].
		{"systemd other sections", parseSystemd("w", settingFixture(t, "usr/lib/systemd/journald.conf.d/70-wrong-section.conf"), "Journal", "Storage"), ``},
		// A continued line joins with a space; the value is trimmed.
		{"systemd continuation", parseSystemd("f", settingFixture(t, "run/systemd/journald.conf.d/60-forward.conf"), "Journal", "ForwardToSyslog"), `f:2="no"`},
		{"systemd reset", parseSystemd("s", settingFixture(t, "etc/systemd/timesyncd.conf.d/site.conf"), "Time", "NTP"), `s:2=<reset> s:3="time1.example.com" s:4="time2.example.com"`},
		{"systemd case-sensitive", parseSystemd("s", settingFixture(t, "etc/systemd/timesyncd.conf.d/site.conf"), "Time", "ntp"), ``},
		{"keyvalue name=value", parseKeyValue("p", settingFixture(t, "etc/security/pwquality.conf.d/50-cis.conf"), "minlen", false), `p:1="14"`},
		{"keyvalue trailing comment", parseKeyValue("p", settingFixture(t, "etc/security/pwquality.conf.d/50-cis.conf"), "dcredit", false), `p:2="-1"`},
		{"keyvalue flag", parseKeyValue("p", settingFixture(t, "etc/security/pwquality.conf.d/50-cis.conf"), "enforce_for_root", false), `p:3=""`},
		{"keyvalue name value", parseKeyValue("p", settingFixture(t, "etc/security/pwquality.conf.d/50-cis.conf"), "maxrepeat", true), `p:4="3"`},
		{"keyvalue case-sensitive", parseKeyValue("p", settingFixture(t, "etc/security/pwquality.conf.d/50-cis.conf"), "maxrepeat", false), ``},
		{"keyvalue commented default", parseKeyValue("p", settingFixture(t, "etc/security/pwquality.conf"), "minlen", false), ``},
		{"directive case-insensitive", parseDirective("c", settingFixture(t, "etc/chrony/sources.d/site.sources"), "server"), `c:1="ntp1.example.com iburst" c:2="ntp2.example.com iburst"`},
		{"directive ! comment", parseDirective("c", settingFixture(t, "etc/chrony/chrony.conf"), "pool"), `c:8="2.debian.pool.ntp.org iburst"`},
		// module(...) over two lines joined; the commented immark skipped.
		{"directive rainerscript", parseDirective("r", settingFixture(t, "etc/rsyslog.conf"), "module"), `r:11="(load=\"imuxsock\") # provides support for local system logging" r:12="(load=\"imklog\")   # provides kernel logging support" r:16="(load=\"imtcp\" MaxSessions=\"200\")"`},
		{"directive legacy", parseDirective("r", settingFixture(t, "etc/rsyslog.conf"), "$FileCreateMode"), `r:29="0640"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := settingAssignText(c.got); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestSettingShellParser(t *testing.T) {
	as, ro, ex := parseShell("t", settingFixture(t, "etc/profile.d/60-tmout.sh"), "TMOUT")
	if got := settingAssignText(as); got != `t:1="900"` || fmt.Sprint(ro, ex) != "[t:2] [t:3]" {
		t.Errorf("TMOUT: %s readonly %v export %v", got, ro, ex)
	}
	// umask inside an if on one line, symbolic form turned into octal
	// (u=rwx,g=,o= leaves out g and o entirely: 077); "TMOUT=600 bash"
	// sets a command's environment only.
	as, _, _ = parseShell("b", settingFixture(t, "etc/bash.bashrc"), "umask")
	if got := settingAssignText(as); got != `b:2="0077"` {
		t.Errorf("umask: %s", got)
	}
	as, _, _ = parseShell("b", settingFixture(t, "etc/bash.bashrc"), "TMOUT")
	if len(as) != 0 {
		t.Errorf("command environment counted as assignment: %s", settingAssignText(as))
	}
	src := "declare -rx TMOUT=300; typeset -i N=1\nexport X=1 TMOUT='450' # TMOUT=1\necho TMOUT=2\nreadonly TMOUT=\"600\" && umask -S\n"
	as, ro, ex = parseShell("s", []byte(src), "TMOUT")
	if got := settingAssignText(as); got != `s:1="300" s:2="450" s:4="600"` || fmt.Sprint(ro, ex) != "[s:1 s:4] [s:1 s:2]" {
		t.Errorf("got %s readonly %v export %v", got, ro, ex)
	}
	if as, _, _ := parseShell("s", []byte(src), "umask"); len(as) != 0 {
		t.Errorf("umask -S (prints the mask) counted: %s", settingAssignText(as))
	}
}

// journald.conf: /etc/systemd/journald.conf.d/50-vendor.conf replaces the
// /usr/lib drop-in of the same name entirely, so its ForwardToSyslog=yes
// is not read; /run's 60-forward.conf sorts after it.
func TestSettingSystemdPrecedence(t *testing.T) {
	env := settingRoot(t)
	// A merged /usr shows the vendor drop-ins under /lib too.
	env.files["/lib/systemd/journald.conf.d/10-compress.conf"] = env.files["/usr/lib/systemd/journald.conf.d/10-compress.conf"]
	r := evalSetting(t, env, `{format: systemd, path: /etc/systemd/journald.conf, section: Journal, key: Storage, equals: persistent}`)
	if strings.Contains(evidenceText(r.Evidence), " /lib/systemd") {
		t.Errorf("/lib/systemd named although /usr/lib has the same file:\n%s", evidenceText(r.Evidence))
	}
	wantSetting(t, r, StatusPass,
		`[Journal] Storage "persistent" from /etc/systemd/journald.conf.d/50-vendor.conf:3`,
		`/etc/systemd/journald.conf.d/50-vendor.conf overrides /usr/lib/systemd/journald.conf.d/50-vendor.conf`,
		`read 5 files: /etc/systemd/journald.conf, /usr/lib/systemd/journald.conf.d/10-compress.conf, /etc/systemd/journald.conf.d/50-vendor.conf, /run/systemd/journald.conf.d/60-forward.conf, /usr/lib/systemd/journald.conf.d/70-wrong-section.conf`)
	if strings.Contains(evidenceText(r.Evidence), "volatile") {
		t.Errorf("the masked /usr/lib drop-in was read:\n%s", evidenceText(r.Evidence))
	}
	r = evalSetting(t, env, `{format: systemd, path: /etc/systemd/journald.conf, section: Journal, key: ForwardToSyslog, equals: "yes"}`)
	wantSetting(t, r, StatusFail, `[Journal] ForwardToSyslog "no" (want = "yes") from /run/systemd/journald.conf.d/60-forward.conf:2`)
	// Compress=yes in the main file, =no in a /usr/lib drop-in read after it.
	r = evalSetting(t, env, `{format: systemd, path: /etc/systemd/journald.conf, section: Journal, key: Compress, equals: "yes"}`)
	wantSetting(t, r, StatusFail, `"no" (want = "yes") from /usr/lib/systemd/journald.conf.d/10-compress.conf:2; overrides "yes" at /etc/systemd/journald.conf:19`)

	// /etc/.../10-compress.conf -> /dev/null masks the vendor drop-in.
	env.files["/etc/systemd/journald.conf.d/10-compress.conf"] = fakeFile{mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}
	r = evalSetting(t, env, `{format: systemd, path: /etc/systemd/journald.conf, section: Journal, key: Compress, equals: "yes"}`)
	wantSetting(t, r, StatusPass, `[Journal] Compress "yes" from /etc/systemd/journald.conf:19`,
		`/etc/systemd/journald.conf.d/10-compress.conf is masked (linked to /dev/null)`)

	// NTP=: an empty assignment resets the list, later ones add to it.
	r = evalSetting(t, env, `{format: systemd, path: /etc/systemd/timesyncd.conf, section: Time, key: NTP, list: true, equals: "time1.example.com time2.example.com"}`)
	wantSetting(t, r, StatusPass, `from /etc/systemd/timesyncd.conf.d/site.conf:3, /etc/systemd/timesyncd.conf.d/site.conf:4; overrides "0.debian.pool.ntp.org 1.debian.pool.ntp.org" at /etc/systemd/timesyncd.conf:6, reset at /etc/systemd/timesyncd.conf.d/site.conf:2`)
	// Without list, the last assignment alone.
	r = evalSetting(t, env, `{format: systemd, path: /etc/systemd/timesyncd.conf, section: Time, key: NTP, equals: "time2.example.com"}`)
	wantSetting(t, r, StatusPass)
	// FallbackNTP only in comments ("#" and ";").
	r = evalSetting(t, env, `{format: systemd, path: /etc/systemd/timesyncd.conf, section: Time, key: FallbackNTP, set: true}`)
	wantSetting(t, r, StatusFail, `[Time] FallbackNTP not set (want it set); read 2 files: /etc/systemd/timesyncd.conf, /etc/systemd/timesyncd.conf.d/site.conf`)
	// A trailing empty assignment resets to the built-in default: unset.
	env.files["/etc/systemd/journald.conf.d/99-reset.conf"] = fakeFile{data: "[Journal]\nStorage=\n", mode: 0o644}
	r = evalSetting(t, env, `{format: systemd, path: /etc/systemd/journald.conf, section: Journal, key: Storage, equals: persistent}`)
	wantSetting(t, r, StatusFail, `[Journal] Storage not set (want = "persistent") (reset by the empty assignment at /etc/systemd/journald.conf.d/99-reset.conf:2); overrides "persistent" at /etc/systemd/journald.conf.d/50-vendor.conf:3`)
}

// pwquality: libpwquality reads pwquality.conf.d/*.conf first and the
// main file last.
func TestSettingKeyValueDropins(t *testing.T) {
	env := settingRoot(t)
	pw := `{format: keyvalue, path: /etc/security/pwquality.conf, dropins: /etc/security/pwquality.conf.d/*.conf, dropins_first: true, ignore_case: true, `
	wantSetting(t, evalSetting(t, env, pw+`key: minlen, min: 14}`), StatusPass,
		`minlen "14" from /etc/security/pwquality.conf.d/50-cis.conf:1; overrides "8" at /etc/security/pwquality.conf.d/40-old.conf:1`,
		`read 3 files: /etc/security/pwquality.conf.d/40-old.conf, /etc/security/pwquality.conf.d/50-cis.conf, /etc/security/pwquality.conf`)
	wantSetting(t, evalSetting(t, env, pw+`key: minclass, equals: "4"}`), StatusPass,
		`minclass "4" from /etc/security/pwquality.conf:15; overrides "2" at /etc/security/pwquality.conf.d/40-old.conf:2`)
	wantSetting(t, evalSetting(t, env, pw+`key: enforce_for_root, set: true}`), StatusPass, `enforce_for_root "" from`)
	wantSetting(t, evalSetting(t, env, pw+`key: dcredit, max: -1}`), StatusPass)
	wantSetting(t, evalSetting(t, env, pw+`key: maxrepeat, max: 3, min: 1}`), StatusPass, `maxrepeat "3" from /etc/security/pwquality.conf.d/50-cis.conf:4`)
	wantSetting(t, evalSetting(t, env, pw+`key: difok, min: 2}`), StatusFail, `difok not set (want >= 2)`)
	// Main file first (the faillock/login.defs order) gives the other answer.
	wantSetting(t, evalSetting(t, env, `{format: keyvalue, path: /etc/security/pwquality.conf, dropins: /etc/security/pwquality.conf.d/*.conf, key: minclass, equals: "4"}`),
		StatusFail, `minclass "2" (want = "4") from /etc/security/pwquality.conf.d/40-old.conf:2; overrides "4" at /etc/security/pwquality.conf:15`)
	// A missing main file is only noted: faillock.conf absent -> unset.
	wantSetting(t, evalSetting(t, env, `{format: keyvalue, path: /etc/security/faillock.conf, key: deny, max: 5}`),
		StatusFail, `deny not set (want <= 5); /etc/security/faillock.conf does not exist; no file read`)
}

func TestSettingSudoers(t *testing.T) {
	env := settingRoot(t)
	s := `{format: sudoers, path: /etc/sudoers, `
	r := evalSetting(t, env, s+`key: use_pty, equals: "true"}`)
	// foo~ and bar.bak (which say !use_pty) are skipped, README is read
	// (no "." in its name); the scoped Defaults:deploy is reported only.
	wantSetting(t, r, StatusPass, `use_pty "true" from /etc/sudoers:15`,
		`read 5 files: /etc/sudoers, /etc/sudoers.d/10-logging, /etc/sudoers.d/20-ops, /etc/sudoers.local, /etc/sudoers.d/README`,
		`Defaults:deploy sets use_pty at /etc/sudoers.d/20-ops:2 (scoped, not counted)`)
	if strings.Contains(evidenceText(r.Evidence), "bar.bak") || strings.Contains(evidenceText(r.Evidence), "foo~") {
		t.Errorf("skipped files read:\n%s", evidenceText(r.Evidence))
	}
	wantSetting(t, evalSetting(t, env, s+`key: timestamp_timeout, max: 15}`), StatusPass,
		`timestamp_timeout "15" from /etc/sudoers.d/20-ops:4; overrides "30" at /etc/sudoers.d/10-logging:1`)
	wantSetting(t, evalSetting(t, env, s+`key: logfile, equals: /var/log/sudo.log}`), StatusPass, `logfile "/var/log/sudo.log" from /etc/sudoers.d/10-logging:1`)
	wantSetting(t, evalSetting(t, env, s+`key: secure_path, matches: '^/usr/local/sbin:'}`), StatusPass)
	// NOPASSWD: the deploy rule (two physical lines), the "#1001" rule (a
	// uid, not a comment) and the included sudoers.local's EXEC:NOPASSWD:.
	wantSetting(t, evalSetting(t, env, s+`tag: NOPASSWD, equals: "0"}`), StatusFail,
		`rules tagged NOPASSWD: count "3" (want = "0") at /etc/sudoers.d/20-ops:5, /etc/sudoers.d/20-ops:7, /etc/sudoers.local:2`)
	wantSetting(t, evalSetting(t, env, s+`tag: NOEXEC, max: 0}`), StatusPass, `count "0"`)
	// !authenticate anywhere, scoped included.
	wantSetting(t, evalSetting(t, env, s+`key: authenticate, scope: any, not_equals: "false"}`), StatusFail,
		`authenticate "false" (want != "false") at /etc/sudoers.d/20-ops:3 (Defaults:backup)`)
	wantSetting(t, evalSetting(t, env, s+`key: authenticate, equals: "false"}`), StatusFail, `authenticate not set`)

	// An include loop is reported, not followed forever; a later !use_pty
	// overrides.
	env.files["/etc/sudoers.local"] = fakeFile{data: "Defaults !use_pty\n#include /etc/sudoers.d/20-ops\n", mode: 0o440}
	wantSetting(t, evalSetting(t, env, s+`key: use_pty, equals: "true"}`), StatusFail,
		`use_pty "false" (want = "true") from /etc/sudoers.local:1; overrides "true" at /etc/sudoers:15`,
		`include loop: /etc/sudoers.local includes /etc/sudoers.d/20-ops again`)
}

func TestSettingSudoersDefaultsSyntax(t *testing.T) {
	env := &fakeEnv{platform: "linux", files: map[string]fakeFile{"/etc/sudoers": {mode: 0o440, data: strings.Join([]string{
		`Defaults env_keep = "LANG LC_ALL", use_pty, lecture="always" # comment`,
		`Defaults env_keep += "TZ"`,
		`Defaults env_keep -= "LC_ALL"`,
		`Defaults@db01 !use_pty`,
		`Defaults>root !lecture`,
		`Defaults mailto="root\"s, admin" , \`,
		`   passwd_tries=2`,
	}, "\n")}}}
	s := `{format: sudoers, path: /etc/sudoers, `
	wantSetting(t, evalSetting(t, env, s+`key: env_keep, equals: "LANG TZ"}`), StatusPass)
	wantSetting(t, evalSetting(t, env, s+`key: use_pty, equals: "true"}`), StatusPass, `Defaults@db01 sets use_pty at /etc/sudoers:4`)
	wantSetting(t, evalSetting(t, env, s+`key: lecture, equals: always}`), StatusPass)
	wantSetting(t, evalSetting(t, env, s+`key: mailto, equals: 'root"s, admin'}`), StatusPass)
	wantSetting(t, evalSetting(t, env, s+`key: passwd_tries, equals: "2"}`), StatusPass, `from /etc/sudoers:6`)
}

func TestSettingShell(t *testing.T) {
	env := settingRoot(t)
	sh := `{format: shell, path: /etc/profile, dropins: [/etc/profile.d/*.sh, /etc/bash.bashrc], `
	wantSetting(t, evalSetting(t, env, sh+`key: umask, bits_set: "027"}`), StatusPass,
		`umask "027" at /etc/profile.d/50-umask.sh:2; "0077" at /etc/bash.bashrc:2 (all 2 occurrences pass)`)
	wantSetting(t, evalSetting(t, env, sh+`key: TMOUT, min: 1, max: 900, readonly: true, export: true}`), StatusPass,
		`TMOUT "900" at /etc/profile.d/60-tmout.sh:1 (all 1 occurrences pass); readonly at /etc/profile.d/60-tmout.sh:2; exported at /etc/profile.d/60-tmout.sh:3`)
	// A more permissive umask anywhere fails the default match: all; any
	// accepts one good one.
	env.files["/etc/profile.d/99-dev.sh"] = fakeFile{data: "if [ \"$USER\" = dev ]; then\n  umask 022\nfi\n", mode: 0o644}
	wantSetting(t, evalSetting(t, env, sh+`key: umask, bits_set: "027"}`), StatusFail,
		`umask "022" (want bits 027 set) at /etc/profile.d/99-dev.sh:2 (1 of 3 occurrences fail)`)
	wantSetting(t, evalSetting(t, env, sh+`key: umask, bits_set: "027", match: any}`), StatusPass, `(2 of 3 occurrences pass)`)
	// TMOUT set but not readonly.
	delete(env.files, "/etc/profile.d/60-tmout.sh")
	env.files["/etc/profile.d/60-tmout.sh"] = fakeFile{data: "export TMOUT=900\n", mode: 0o644}
	wantSetting(t, evalSetting(t, env, sh+`key: TMOUT, max: 900, readonly: true}`), StatusFail, `TMOUT is never marked readonly (want it readonly)`)
	wantSetting(t, evalSetting(t, env, sh+`key: HISTFILE, set: false}`), StatusPass, `HISTFILE not set`)
}

func TestSettingLimits(t *testing.T) {
	env := settingRoot(t)
	l := `{format: limits, path: /etc/security/limits.conf, dropins: /etc/security/limits.d/*.conf, `
	wantSetting(t, evalSetting(t, env, l+`key: "* hard core", equals: "0"}`), StatusPass,
		`* hard core "0" from /etc/security/limits.conf:9`, `/etc/security/limits.d/10-dev.conf:3 is malformed (want 4 fields), ignored`)
	wantSetting(t, evalSetting(t, env, l+`key: "* soft core", equals: "0"}`), StatusPass, `from /etc/security/limits.d/10-dev.conf:2`)
	// "-" sets soft and hard.
	env.files["/etc/security/limits.d/90-core.conf"] = fakeFile{data: "*  -  core  unlimited\n", mode: 0o644}
	wantSetting(t, evalSetting(t, env, l+`key: "* hard core", equals: "0"}`), StatusFail,
		`* hard core "unlimited" (want = "0") from /etc/security/limits.d/90-core.conf:1; overrides "0" at /etc/security/limits.conf:9`)
}

func TestSettingDirective(t *testing.T) {
	env := settingRoot(t)
	ch := `{format: directive, path: /etc/chrony/chrony.conf, dropins: [/etc/chrony/conf.d/*.conf, /etc/chrony/sources.d/*.sources], `
	wantSetting(t, evalSetting(t, env, ch+`key: server, set: true}`), StatusPass, `(all 2 occurrences pass)`)
	wantSetting(t, evalSetting(t, env, ch+`key: pool, matches: 'example\.com', match: any}`), StatusFail,
		`pool: no occurrence passes: "2.debian.pool.ntp.org iburst" (want matching "example\\.com") at /etc/chrony/chrony.conf:8`)
	wantSetting(t, evalSetting(t, env, ch+`key: user, equals: _chrony}`), StatusPass)
	rs := `{format: directive, path: /etc/rsyslog.conf, dropins: /etc/rsyslog.d/*.conf, `
	wantSetting(t, evalSetting(t, env, rs+`key: $FileCreateMode, bits_clear: "0137"}`), StatusFail,
		`"0644" (want bits 0137 clear) at /etc/rsyslog.d/50-remote.conf:1 (1 of 2 occurrences fail)`)
	wantSetting(t, evalSetting(t, env, rs+`key: module, matches: 'load="imtcp"', match: any}`), StatusPass, `at /etc/rsyslog.conf:16`)
}

// Bad input: every case ends in evidence or an error, never a panic.
func TestSettingBadInput(t *testing.T) {
	env := settingRoot(t)
	env.files["/etc/big.conf"] = fakeFile{data: "x = 1\n", size: MaxFileBytes + 1, mode: 0o644}
	r := evalSetting(t, env, `{format: keyvalue, path: /etc/big.conf, key: x, equals: "1"}`)
	wantSetting(t, r, StatusError)
	if !strings.Contains(r.Error, "/etc/big.conf: file too large") {
		t.Errorf("error %q", r.Error)
	}
	// Binary junk and a line without "=" in systemd format.
	env.files["/etc/systemd/logind.conf"] = fakeFile{data: "\x00\xff[Login\nKillUserProcesses\n[Login]\nKillUserProcesses=yes\\", mode: 0o644}
	wantSetting(t, evalSetting(t, env, `{format: systemd, path: /etc/systemd/logind.conf, section: Login, key: KillUserProcesses, equals: "yes"}`), StatusPass, `from /etc/systemd/logind.conf:4`)
	// A read error other than "missing" is an error.
	wantSetting(t, evalSetting(t, &settingErrEnv{env}, `{format: directive, path: /etc/chrony/chrony.conf, key: pool, set: true}`), StatusError)
	// Stored inventory has no files: unavailable, an error.
	inv := newFakeEnv(t, "debian12.json").Env
	r = evalSetting(t, inv, `{format: keyvalue, path: /etc/security/pwquality.conf, key: minlen, min: 14}`)
	if r.Status != StatusError || !strings.Contains(r.Error, ErrUnavailable.Error()) {
		t.Errorf("on stored inventory: %s %q", r.Status, r.Error)
	}
	// A sudoers include chain deeper than the limit.
	deep := &fakeEnv{platform: "linux", files: map[string]fakeFile{}}
	for i := 0; i < 40; i++ {
		deep.files[fmt.Sprintf("/etc/s%d", i)] = fakeFile{data: fmt.Sprintf("@include /etc/s%d\n", i+1), mode: 0o440}
	}
	r = evalSetting(t, deep, `{format: sudoers, path: /etc/s0, key: use_pty, set: true}`)
	if r.Status != StatusError || !strings.Contains(r.Error, "nested more than 32 deep") {
		t.Errorf("deep includes: %s %q", r.Status, r.Error)
	}
}

// settingErrEnv fails every read with an I/O error.
type settingErrEnv struct{ *fakeEnv }

func (e *settingErrEnv) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	return nil, fmt.Errorf("%s: input/output error", p)
}

func TestSettingSecretValuesWithheld(t *testing.T) {
	env := &fakeEnv{platform: "linux", files: map[string]fakeFile{"/etc/app.conf": {data: "db_password = hunter2\n", mode: 0o600}},
		withhold: func(ContentKind, string) bool { return true }}
	r := evalSetting(t, env, `{format: keyvalue, path: /etc/app.conf, key: db_password, not_equals: "changeme"}`)
	wantSetting(t, r, StatusPass, `db_password (value withheld) passes from /etc/app.conf:1`)
	if strings.Contains(evidenceText(r.Evidence), "hunter2") {
		t.Errorf("secret quoted:\n%s", evidenceText(r.Evidence))
	}
}

func TestSettingValidation(t *testing.T) {
	cases := []struct{ check, want string }{
		{`{format: ini, path: /etc/x, key: a, set: true}`, `p.yaml:6: policy p: check.setting.format: unknown format "ini" (known: keyvalue, systemd, sudoers, shell, limits, directive)`},
		{`{path: /etc/x, key: a, set: true}`, `p.yaml:6: policy p: check.setting.format: required`},
		{`{format: keyvalue, key: a, set: true}`, `check.setting.path: required`},
		{`{format: keyvalue, path: etc/x, key: a, set: true}`, `check.setting.path: "etc/x" must be absolute`},
		{`{format: keyvalue, path: /etc/*.conf, key: a, set: true}`, `path names one file, not a glob`},
		{`{format: keyvalue, path: /etc/x, set: true}`, `check.setting.key: required`},
		{`{format: keyvalue, path: /etc/x, key: a}`, `check.setting: needs a test: one of set, equals`},
		{`{format: keyvalue, path: /etc/x, key: a, section: Journal, set: true}`, `check.setting.section: section applies only to format systemd, not keyvalue`},
		{`{format: systemd, path: /etc/systemd/journald.conf, key: Storage, set: true}`, `check.setting.section: required for format systemd`},
		{`{format: systemd, path: /etc/systemd/journald.conf, section: "[Journal]", key: Storage, set: true}`, `give the section name without brackets`},
		{`{format: sudoers, path: /etc/sudoers, set: true}`, `check.setting.key: required (or tag)`},
		{`{format: sudoers, path: /etc/sudoers, key: "!authenticate", set: true}`, `name the parameter without "!"`},
		{`{format: sudoers, path: /etc/sudoers, tag: NOPASSWORD, max: 0}`, `"NOPASSWORD" is not a sudoers tag`},
		{`{format: sudoers, path: /etc/sudoers, key: use_pty, tag: NOPASSWD, max: 0}`, `key and tag are exclusive`},
		{`{format: sudoers, path: /etc/sudoers, key: use_pty, match: any, set: true}`, `match applies to sudoers only with scope: any`},
		{`{format: sudoers, path: /etc/sudoers, dropins: /etc/sudoers.d/*, key: use_pty, set: true}`, `dropins applies only to format`},
		{`{format: keyvalue, path: /etc/x, key: a, scope: any, set: true}`, `scope applies only to format sudoers, not keyvalue`},
		{`{format: limits, path: /etc/security/limits.conf, key: "* core", equals: "0"}`, `want "<domain> <type> <item>"`},
		{`{format: limits, path: /etc/security/limits.conf, key: "* both core", equals: "0"}`, `type "both" is not soft, hard or -`},
		{`{format: shell, path: /etc/profile, key: "TM-OUT", set: true}`, `"TM-OUT" is not a shell variable name or umask`},
		{`{format: shell, path: /etc/profile, key: umask, readonly: true}`, `readonly and export apply to variables, not umask`},
		{`{format: directive, path: /etc/chrony/chrony.conf, key: "server x", set: true}`, `a directive is one word`},
		{`{format: directive, path: /etc/chrony/chrony.conf, key: server, match: some, set: true}`, `"some" is not one of all, any`},
		{`{format: keyvalue, path: /etc/x, dropins: [], key: a, set: true}`, `must list at least one glob`},
		{`{format: keyvalue, path: /etc/x, dropins: "d/*.conf", key: a, set: true}`, `"d/*.conf" must be absolute`},
		{`{format: keyvalue, path: /etc/x, key: a, min: lots}`, `"lots" is not a whole number`},
		{`{format: keyvalue, path: /etc/x, key: a, colour: red, set: true}`, `check.setting.colour: unknown field`},
	}
	for _, c := range cases {
		_, err := Parse("p.yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check:\n      setting: "+c.check+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %s", c.check, err, c.want)
		}
		if err != nil && !strings.Contains(err.Error(), "p.yaml:") {
			t.Errorf("%s: no FILE:LINE in %v", c.check, err)
		}
	}
}

// Malformed lines in every format: parsed without panicking, judged from
// what is readable.
func TestSettingMalformedInputNoPanic(t *testing.T) {
	inputs := []string{"", "\\", "\"", "'", "(", "((((", "Defaults", "Defaults:", "Defaults \"", "[", "[]", "=", "a=\\",
		"umask", "umask '", "export", "declare -", "x=\"unterminated\\", "@include", "#includedir", "* hard", "\x00\xff\n\r\n",
		"module(load=\"x\"\n", strings.Repeat("(", 500), "key = \"a, b\\"}
	for _, in := range inputs {
		data := []byte(in)
		parseKeyValue("f", data, "key", true)
		parseSystemd("f", data, "Journal", "a")
		parseShell("f", data, "x")
		parseShell("f", data, "umask")
		parseDirective("f", data, "module")
		env := &fakeEnv{platform: "linux", files: map[string]fakeFile{"/etc/f": {data: in, mode: 0o644}}}
		for _, format := range []string{"keyvalue", "sudoers", "shell", "limits", "directive"} {
			key := "a"
			if format == "limits" {
				key = "'* hard core'"
			}
			r := evalSetting(t, env, `{format: `+format+`, path: /etc/f, key: `+key+`, set: false}`)
			if r.Status != StatusPass && r.Status != StatusFail {
				t.Errorf("%s on %q: %s %q", format, in, r.Status, r.Error)
			}
		}
	}
}
