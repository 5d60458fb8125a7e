package policy

import (
	"context"
	"testing"
)

func TestSSHDLeaf(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	env.files = treeFiles(t, "sshd")
	const main, cis, early = "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-cis.conf", "/etc/ssh/sshd_config.d/10-early.conf"
	runConfigLeafCases(t, env, "sshd", []cfgLeafCase{
		// The Include on line 5 comes before line 12's "yes": first wins.
		// The drop-in's "No" is compared lower case. The Match block's
		// "yes" is listed, not judged.
		{"first value wins over later main file line", `{key: PermitRootLogin, equals: "no"}`, StatusPass,
			`PermitRootLogin "no" from ` + cis + `:2; Match User anoncvs (` + main + `:33) sets "yes" from ` + main + `:37, not judged`},
		{"match all judges Match blocks", `{key: PermitRootLogin, equals: "no", match: all}`, StatusFail,
			`PermitRootLogin "no" from ` + cis + `:2; Match User anoncvs (` + main + `:33) sets "yes" (want = "no") from ` + main + `:37`},
		// Included files are read in lexical order: 10-early before 50-cis.
		{"lexical include order", `{key: maxauthtries, max: "4"}`, StatusPass, `maxauthtries "4" from ` + early + `:2`},
		{"upper-cased log level", `{key: LogLevel, one_of: [INFO, VERBOSE]}`, StatusPass, `LogLevel "VERBOSE" from ` + cis + `:3`},
		{"Keyword=value and minutes", `{key: LoginGraceTime, max: "60"}`, StatusPass, `LoginGraceTime "60" from ` + cis + `:4`},
		{"minutes in the main file", `{key: ClientAliveInterval, max: "900", min: "1"}`, StatusPass, `ClientAliveInterval "900" from ` + main + `:22`},
		{"quoted value", `{key: MaxStartups, equals: "10:30:60"}`, StatusPass, `MaxStartups "10:30:60" from ` + cis + `:5`},
		// AllowUsers accumulates over every line.
		{"accumulating keyword", `{key: AllowUsers, equals: "carol alice bob"}`, StatusPass,
			`AllowUsers "carol alice bob" from ` + cis + `:6, ` + main + `:30`},
		{"default", `{key: MaxSessions, max: "10"}`, StatusPass, `MaxSessions "10" (default)`},
		{"default fails", `{key: ClientAliveCountMax, equals: "3"}`, StatusFail, `ClientAliveCountMax "2" (want = "3") from ` + early + `:1`},
		// README does not match *.conf, so its PermitEmptyPasswords does not
		// count; the Match block in an Include inside a Match block does.
		{"default with nested Match", `{key: PermitEmptyPasswords, equals: "no", match: all}`, StatusFail,
			`PermitEmptyPasswords "no" (default); Match User nobody (/etc/ssh/extra.d/pw.conf:2) sets "yes" (want = "no") from /etc/ssh/extra.d/pw.conf:3`},
		{"Include inside a Match block belongs to it", `{key: PasswordAuthentication, equals: "yes"}`, StatusPass,
			`PasswordAuthentication "yes" (default); Match Address 10.0.0.0/8 (` + main + `:39) sets "yes" from /etc/ssh/extra.d/pw.conf:1, not judged`},
		{"removing from the default algorithms", `{key: Ciphers, not_matches: "chacha20|cbc"}`, StatusPass,
			`Ciphers "aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com" from ` + cis + `:7`},
		{"default algorithms", `{key: MACs, matches: "^umac-64-etm"}`, StatusPass,
			`MACs "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1" (default)`},
		{"alias", `{key: ChallengeResponseAuthentication, equals: "no"}`, StatusPass, `ChallengeResponseAuthentication "no" from ` + main + `:17`},
		{"keyword without default unset", `{key: ChrootDirectory, set: false}`, StatusPass, `ChrootDirectory not set (not set, no known default)`},
		{"Banner", `{key: banner, not_equals: none}`, StatusPass, `banner "/etc/issue.net" from ` + cis + `:8`},
	})
	loop := newFakeEnv(t, "debian12.json")
	loop.files = treeFiles(t, "sshd/loop")
	r := Evaluate(context.Background(), onePolicy(t, `{sshd: {key: PermitRootLogin, equals: "no"}}`), loop)
	if r.Status != StatusError || r.Error != "check.sshd: sshd Include loop: /etc/ssh/sshd_config -> /etc/ssh/sshd_config" {
		t.Errorf("loop: %s %q", r.Status, r.Error)
	}
	loop.files = map[string]fakeFile{}
	r = Evaluate(context.Background(), onePolicy(t, `{sshd: {key: PermitRootLogin, equals: "no"}}`), loop)
	if r.Status != StatusFail || r.Evidence[0].Detail != "/etc/ssh/sshd_config does not exist" {
		t.Errorf("missing: %s\n%s", r.Status, evidenceText(r.Evidence))
	}
}

func TestSSHDParse(t *testing.T) {
	for in, want := range map[string]string{
		"90": "90", "1m30s": "90", "2h30m": "9000", "1w": "604800", "10M": "600",
	} {
		if got, ok := sshdTime(in); !ok || got != want {
			t.Errorf("sshdTime(%q) = %q %t, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "m", "1x", "1m-"} {
		if got, ok := sshdTime(bad); ok {
			t.Errorf("sshdTime(%q) = %q, want not ok", bad, got)
		}
	}
	words, ok := sshdArgs(`ForceCommand "cvs server" 'a b' x\"y # comment`)
	if !ok || len(words) != 4 || words[1] != "cvs server" || words[2] != "a b" || words[3] != `x"y` {
		t.Errorf("sshdArgs = %q %t", words, ok)
	}
	if _, ok := sshdArgs(`Banner "unterminated`); ok {
		t.Error("unterminated quote accepted")
	}
}

// TestConfigParsersOddInput feeds the config parsers malformed text; none
// may panic, and each keeps what it can read.
func TestConfigParsersOddInput(t *testing.T) {
	odd := []string{"", "\n", "\\", "[", "a [b", "@include", "=", "Key=", ":::::", "\x00\xff", "\"", "# only", "a\\\n", "Match\nPermitRootLogin no\n"}
	for _, s := range odd {
		lines, _ := pamLogicalLines([]byte(s))
		for _, l := range lines {
			pamTokens(l)
		}
		sshdArgs(s)
		parseLoginDefs([]byte(s))
		parseShadow([]byte(s))
		parsePasswd([]byte(s))
		parseGroup([]byte(s))
		sshdTime(s)
	}
	env := newFakeEnv(t, "debian12.json")
	env.files = map[string]fakeFile{"/etc/ssh/sshd_config": {data: "Match\nPermitRootLogin yes\nInclude\n"}}
	r := Evaluate(context.Background(), onePolicy(t, `{sshd: {key: PermitRootLogin, equals: "no", match: all}}`), env)
	want := `PermitRootLogin "prohibit-password" (want = "no") (default); Match (no criteria) (/etc/ssh/sshd_config:1) sets "yes" (want = "no") from /etc/ssh/sshd_config:2`
	if r.Status != StatusFail || r.Evidence[0].Detail != want {
		t.Errorf("%s\n%swant %q", r.Status, evidenceText(r.Evidence), want)
	}
}

// TestSSHDAlgoListAssembly follows sshd's assembly of algorithm lists:
// wildcards expanded against the supported algorithms, "+" and "^" lists
// merged with the default without duplicates, "-" removing matches.
func TestSSHDAlgoListAssembly(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"ciphers", "aes*-ctr", "aes128-ctr,aes192-ctr,aes256-ctr"},
		{"ciphers", "aes256-gcm@openssh.com,aes*-ctr,aes256-ctr", "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr"},
		{"ciphers", "^aes256-gcm@openssh.com", "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com"},
		{"ciphers", "-chacha20*", "aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"},
		{"macs", "+hmac-sha2-256", "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"},
		{"macs", "+hmac-md5", "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1,hmac-md5"},
		{"kexalgorithms", "curve25519-sha256*", "curve25519-sha256,curve25519-sha256@libssh.org"},
		{"ciphers", "no-such-cipher", ""},
	}
	for _, c := range cases {
		if got := sshdAlgoList(c.key, c.value); got != c.want {
			t.Errorf("%s %q:\n got %s\nwant %s", c.key, c.value, got, c.want)
		}
	}
}
