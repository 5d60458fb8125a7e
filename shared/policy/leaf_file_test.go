package policy

import (
	"context"
	"io/fs"
	"strings"
	"testing"
)

// sshFiles is a small file system: sshd_config forbids root login, one
// drop-in allows it again and is group-writable and owned by alice.
func sshFiles() map[string]fakeFile {
	return map[string]fakeFile{
		"/etc/ssh/sshd_config":             {data: "# sshd\nPort 22\n  PermitRootLogin no\nX11Forwarding yes\n", mode: 0o600, owner: "root", uid: "0"},
		"/etc/ssh/sshd_config.d/10-a.conf": {data: "X11Forwarding no\n", mode: 0o644, owner: "root", uid: "0"},
		"/etc/ssh/sshd_config.d/20-b.conf": {data: "Banner none\r\nPermitRootLogin yes\r\n", mode: 0o664, owner: "alice", uid: "1000"},
		"/etc/shadow":                      {data: "root:*:19000:0:99999:7:::\n", mode: 0o640, owner: "root", uid: "0"},
		"/usr/bin/sudo":                    {data: "ELF", mode: 0o755 | fs.ModeSetuid, owner: "root", uid: "0"},
		"/tmp":                             {mode: 0o777 | fs.ModeDir | fs.ModeSticky, owner: "root", uid: "0"},
		"/etc/ssh":                         {mode: 0o755 | fs.ModeDir, owner: "root", uid: "0"},
		"/etc/ssh/sshd_config.d":           {mode: 0o755 | fs.ModeDir, owner: "root", uid: "0"},
		"/var/log/huge.log":                {data: "x", size: MaxFileBytes + 1, mode: 0o640, owner: "root", uid: "0"},
		"/etc/orphan":                      {data: "x", mode: 0o644, uid: "4242"},
	}
}

func TestFileLeaf(t *testing.T) {
	cases := []struct {
		name, check string
		want        Status
		detail      string
	}{
		{"exists", `{path: /etc/shadow, exists: true}`, StatusPass, "exists: /etc/shadow"},
		{"exists by glob", `{path: "/etc/ssh/sshd_config.d/*.conf", exists: true}`, StatusPass,
			"exists: /etc/ssh/sshd_config.d/10-a.conf, /etc/ssh/sshd_config.d/20-b.conf"},
		{"missing", `{path: /etc/nope, exists: true}`, StatusFail, "no file matches /etc/nope"},
		{"absent as wanted", `{path: "/etc/*.rhosts", exists: false}`, StatusPass, "no file matches /etc/*.rhosts"},
		{"present but unwanted", `{path: "/etc/ssh/*", exists: false}`, StatusFail, "exists: /etc/ssh/sshd_config, /etc/ssh/sshd_config.d"},
		{"matches with line", `{path: /etc/ssh/sshd_config, matches: '(?m)^\s*PermitRootLogin\s+no\b'}`, StatusPass,
			`/etc/ssh/sshd_config:3: "  PermitRootLogin no" matches`},
		{"no line matches", `{path: /etc/ssh/sshd_config, matches: '(?m)^PasswordAuthentication no'}`, StatusFail,
			"no line matches (?m)^PasswordAuthentication no in /etc/ssh/sshd_config"},
		{"matches in any globbed file", `{path: "/etc/ssh/sshd_config.d/*", matches: 'Banner'}`, StatusPass,
			`/etc/ssh/sshd_config.d/20-b.conf:1: "Banner none" matches`},
		{"not_matches offending line", `{path: "/etc/ssh/sshd_config.d/*.conf", not_matches: '(?mi)^\s*permitrootlogin\s+yes'}`, StatusFail,
			`/etc/ssh/sshd_config.d/20-b.conf:2: "PermitRootLogin yes" matches not_matches (?mi)^\s*permitrootlogin\s+yes`},
		{"not_matches clean", `{path: /etc/ssh/sshd_config, not_matches: 'PermitEmptyPasswords yes'}`, StatusPass,
			"no line matches PermitEmptyPasswords yes in /etc/ssh/sshd_config"},
		{"missing file does not pass not_matches", `{path: /etc/nope, not_matches: x}`, StatusFail, "no file matches /etc/nope"},
		{"content skips directories", `{path: "/etc/ssh/*", matches: 'Port'}`, StatusPass, `/etc/ssh/sshd_config:2: "Port 22" matches`},
		{"directories only", `{path: /tmp, matches: x}`, StatusFail, "no regular file among /tmp"},
		{"mode within", `{path: /etc/shadow, mode_max: "0640"}`, StatusPass, "/etc/shadow: mode 0640 within 0640"},
		{"mode bits beyond max although smaller", `{path: /etc/shadow, mode_max: "0604"}`, StatusFail,
			"/etc/shadow: mode 0640 exceeds mode_max 0604 (extra bits 0040)"},
		{"setuid counts", `{path: /usr/bin/sudo, mode_max: "0755"}`, StatusFail,
			"/usr/bin/sudo: mode 4755 exceeds mode_max 0755 (extra bits 4000)"},
		{"sticky within", `{path: /tmp, mode_max: "1777"}`, StatusPass, "/tmp: mode 1777 within 1777"},
		{"mode for every globbed file, failures shown", `{path: "/etc/ssh/sshd_config.d/*.conf", mode_max: "644"}`, StatusFail,
			"/etc/ssh/sshd_config.d/20-b.conf: mode 0664 exceeds mode_max 0644 (extra bits 0020)"},
		{"owner by name", `{path: /etc/shadow, owner: root}`, StatusPass, "/etc/shadow: owner root"},
		{"owner by uid", `{path: /etc/shadow, owner: "0"}`, StatusPass, "/etc/shadow: owner root"},
		{"owner wrong", `{path: "/etc/ssh/sshd_config.d/*", owner: root}`, StatusFail,
			"/etc/ssh/sshd_config.d/20-b.conf: owner alice, want root"},
		{"owner without account", `{path: /etc/orphan, owner: root}`, StatusFail, "/etc/orphan: owner uid 4242, want root"},
		{"everything at once", `{path: /etc/ssh/sshd_config, matches: Port, not_matches: Banner, mode_max: "0600", owner: root}`, StatusPass,
			`/etc/ssh/sshd_config:2: "Port 22" matches; no line matches Banner in /etc/ssh/sshd_config; /etc/ssh/sshd_config: mode 0600 within 0600; /etc/ssh/sshd_config: owner root`},
		{"file too large", `{path: /var/log/huge.log, matches: x}`, StatusError,
			"error: /var/log/huge.log: file too large (over 16777216 bytes)"},
	}
	env := newFakeEnv(t, "debian12.json")
	env.files = sshFiles()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, "{file: "+c.check+"}"), env)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail || r.Evidence[0].Check != "check.file" {
				t.Errorf("status %s, evidence:\n%swant %s, %q", r.Status, evidenceText(r.Evidence), c.want, c.detail)
			}
		})
	}
}

func TestFileLeafLimits(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	env.files = map[string]fakeFile{}
	for i := range MaxGlobFiles + 1 {
		env.files["/many/"+strings.Repeat("f", 1+i%7)+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = fakeFile{mode: 0o644}
	}
	r := Evaluate(context.Background(), onePolicy(t, `{file: {path: "/many/*", exists: true}}`), env)
	if r.Status != StatusError || !strings.Contains(r.Error, "more than 1000") {
		t.Errorf("status %s, error %q", r.Status, r.Error)
	}

	win := newFakeEnv(t, "windows11.json")
	win.files = map[string]fakeFile{`C:\Windows\win.ini`: {data: "[fonts]", mode: 0o666}}
	r = Evaluate(context.Background(), onePolicy(t, `{file: {path: 'C:\Windows\win.ini', mode_max: "0644"}}`), win)
	if r.Status != StatusError || r.Error != `check.file: C:\Windows\win.ini: file permissions are not available on this platform` {
		t.Errorf("windows mode: status %s, error %q", r.Status, r.Error)
	}
}

func TestOwnerIs(t *testing.T) {
	cases := []struct {
		st   FileStat
		want string
		ok   bool
	}{
		{FileStat{Owner: "root", OwnerID: "0"}, "root", true},
		{FileStat{Owner: "root", OwnerID: "0"}, "0", true},
		{FileStat{Owner: "root", OwnerID: "0"}, "Root", false},
		{FileStat{Owner: `BUILTIN\Administrators`, OwnerID: "S-1-5-32-544"}, "administrators", true},
		{FileStat{Owner: `BUILTIN\Administrators`, OwnerID: "S-1-5-32-544"}, `builtin\administrators`, true},
		{FileStat{Owner: `BUILTIN\Administrators`, OwnerID: "S-1-5-32-544"}, "S-1-5-32-544", true},
		{FileStat{Owner: `NT SERVICE\TrustedInstaller`}, "Administrators", false},
		{FileStat{OwnerID: "4242"}, "", false},
	}
	for _, c := range cases {
		if got := ownerIs(c.st, c.want); got != c.ok {
			t.Errorf("ownerIs(%+v, %q) = %t", c.st, c.want, got)
		}
	}
}
