package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func shadowEnv(t *testing.T) *fakeEnv {
	env := newFakeEnv(t, "debian12.json")
	env.files = treeFiles(t, "shadow")
	return env
}

func TestShadowLeaf(t *testing.T) {
	env := shadowEnv(t)
	runConfigLeafCases(t, env, "shadow", []cfgLeafCase{
		{"max_days of accounts with a password", `{accounts: with_password, field: max_days, max: "365"}`, StatusFail,
			`2 of 3 accounts fail: root max_days "99999" (want <= 365) (/etc/shadow:1); bob max_days "99999" (want <= 365) (/etc/shadow:6)`},
		{"named accounts", `{accounts: [alice, carol], field: max_days, max: "365"}`, StatusPass,
			`max_days of accounts alice, carol: alice "365", carol "90"`},
		{"named account missing", `{accounts: [alice, mallory], field: min_days, min: "1"}`, StatusFail,
			`1 of 2 accounts fail: mallory: no entry in /etc/shadow`},
		// interactive: root or uid >= UID_MIN (default 1000: no login.defs
		// here) with a shell listed in /etc/shells; carol has nologin.
		{"interactive warn_days", `{accounts: interactive, field: warn_days, min: "7"}`, StatusPass,
			`warn_days of interactive accounts: root "7", alice "7", bob "7", dave "7"`},
		{"empty field is not set", `{accounts: interactive, field: inactive, max: "30"}`, StatusFail,
			`3 of 4 accounts fail: root inactive not set (want <= 30) (/etc/shadow:1); bob inactive not set (want <= 30) (/etc/shadow:6); dave inactive not set (want <= 30) (/etc/shadow:8)`},
		{"password states", `{accounts: all, field: password, one_of: ["hashed:yescrypt", locked, none]}`, StatusFail,
			`2 of 8 accounts fail: bob password "hashed:sha512crypt" (want one of ["hashed:yescrypt" "locked" "none"]) (/etc/shadow:6); dave password "empty" (want one of ["hashed:yescrypt" "locked" "none"]) (/etc/shadow:8)`},
		{"no empty passwords", `{field: password, not_equals: empty}`, StatusFail,
			`1 of 8 accounts fail: dave password "empty" (want != "empty") (/etc/shadow:8)`},
	})
	// dave's last change (day 25000, in 2038) is in the future.
	today := int64(time.Since(time.Unix(0, 0)).Hours() / 24)
	r := Evaluate(context.Background(), onePolicy(t, `{shadow: {field: last_change, not_in_future: true}}`), env)
	want := fmt.Sprintf("1 of 8 accounts fail: dave last_change 25000 is after today (%d) (/etc/shadow:8)", today)
	if r.Status != StatusFail || len(r.Evidence) != 1 || r.Evidence[0].Detail != want {
		t.Errorf("not_in_future: %s\n%swant %q", r.Status, evidenceText(r.Evidence), want)
	}
	r = Evaluate(context.Background(), onePolicy(t, `{shadow: {accounts: [root, alice], field: last_change, not_in_future: true}}`), env)
	if r.Status != StatusPass || r.Evidence[0].Detail != `last_change of accounts root, alice: root "19700", alice "19800"` {
		t.Errorf("not_in_future pass: %s\n%s", r.Status, evidenceText(r.Evidence))
	}
	// No evidence quotes a hash.
	r = Evaluate(context.Background(), onePolicy(t, `{shadow: {field: password, equals: "hashed:yescrypt"}}`), env)
	for _, e := range r.Evidence {
		if strings.Contains(e.Detail, "$y$") || strings.Contains(e.Detail, "fake") {
			t.Errorf("evidence quotes a hash: %s", e.Detail)
		}
	}
	// UID_MIN from login.defs changes who is interactive.
	env.files["/etc/login.defs"] = fakeFile{data: "UID_MIN 1001\n", mode: 0o644}
	r = Evaluate(context.Background(), onePolicy(t, `{shadow: {accounts: interactive, field: warn_days, min: "7"}}`), env)
	if r.Status != StatusPass || r.Evidence[0].Detail != `warn_days of interactive accounts: root "7", bob "7", dave "7"` {
		t.Errorf("UID_MIN 1001: %s\n%s", r.Status, evidenceText(r.Evidence))
	}
}

func TestPasswordState(t *testing.T) {
	for pw, want := range map[string]string{
		"": "empty", "!": "locked", "!!": "locked", "!$y$j9T$x$y": "locked", "*": "none", "x": "none",
		"$y$j9T$salt$hash": "hashed:yescrypt", "$6$salt$hash": "hashed:sha512crypt", "$5$s$h": "hashed:sha256crypt",
		"$1$s$h": "hashed:md5crypt", "$2b$12$abc": "hashed:bcrypt", "$gy$j9T$s$h": "hashed:gost-yescrypt",
		"abcdefghijklm": "hashed:des", "$zz$s$h": "hashed:unknown",
	} {
		if got := passwordState(pw); got != want {
			t.Errorf("passwordState(%q) = %q, want %q", pw, got, want)
		}
	}
}

func TestShadowLeafErrors(t *testing.T) {
	env := shadowEnv(t)
	env.files["/etc/shadow"] = fakeFile{data: "x", size: maxAccountFileBytes + 1}
	r := Evaluate(context.Background(), onePolicy(t, `{shadow: {field: max_days, max: "365"}}`), env)
	if r.Status != StatusError || r.Error != "check.shadow: /etc/shadow is larger than 8388608 bytes" {
		t.Errorf("huge: %s %q", r.Status, r.Error)
	}
	// Lines of another shape than nine fields are skipped and counted.
	env.files["/etc/shadow"] = fakeFile{data: "root:*:19700:0:99999:7:::\nbroken line\nalice:!:1:2\n\n# comment\n", mode: 0o640}
	r = Evaluate(context.Background(), onePolicy(t, `{shadow: {field: max_days, max: "99999"}}`), env)
	if r.Status != StatusPass || r.Evidence[0].Detail != `max_days of all accounts: root "99999" (2 malformed lines of /etc/shadow skipped)` {
		t.Errorf("malformed: %s\n%s", r.Status, evidenceText(r.Evidence))
	}
	delete(env.files, "/etc/shadow")
	r = Evaluate(context.Background(), onePolicy(t, `{shadow: {field: max_days, max: "365"}}`), env)
	if r.Status != StatusFail || r.Evidence[0].Detail != "/etc/shadow does not exist" {
		t.Errorf("missing: %s\n%s", r.Status, evidenceText(r.Evidence))
	}
}

func TestLoginDefsLeaf(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	data, err := readFixtureBytes("logindefs/login.defs")
	if err != nil {
		t.Fatal(err)
	}
	env.files = map[string]fakeFile{"/etc/login.defs": {data: string(data), mode: 0o644}}
	runConfigLeafCases(t, env, "login_defs", []cfgLeafCase{
		// The later PASS_MAX_DAYS (line 16) replaces line 9's.
		{"last assignment wins", `{key: PASS_MAX_DAYS, max: "365"}`, StatusPass, `PASS_MAX_DAYS "365" from /etc/login.defs:16`},
		// Quotes around a value are dropped.
		{"quoted umask", `{key: UMASK, bits_set: "027"}`, StatusPass, `UMASK "027" from /etc/login.defs:17`},
		// "PASS_WARN_AGE" alone has no value and is ignored; line 11 stays.
		{"name without value ignored", `{key: PASS_WARN_AGE, min: "7"}`, StatusPass, `PASS_WARN_AGE "7" from /etc/login.defs:11`},
		// Names are case-sensitive: pass_min_days is another name.
		{"case-sensitive", `{key: PASS_MIN_DAYS, min: "1"}`, StatusFail, `PASS_MIN_DAYS "0" (want >= 1) from /etc/login.defs:10`},
		{"blank-padded value", `{key: UID_MIN, equals: "1000"}`, StatusPass, `UID_MIN "1000" from /etc/login.defs:12`},
		{"encrypt method", `{key: ENCRYPT_METHOD, one_of: [SHA512, YESCRYPT]}`, StatusPass, `ENCRYPT_METHOD "SHA512" from /etc/login.defs:14`},
		{"unset with default", `{key: GID_MIN, equals: "1000"}`, StatusPass, `GID_MIN "1000" (default; not set in /etc/login.defs)`},
		{"unset without default", `{key: SHA_CRYPT_MIN_ROUNDS, min: "5000"}`, StatusFail, `SHA_CRYPT_MIN_ROUNDS not set (want >= 5000) (not set in /etc/login.defs)`},
		{"unset and wanted unset", `{key: SHA_CRYPT_MIN_ROUNDS, set: false}`, StatusPass, `SHA_CRYPT_MIN_ROUNDS not set (not set in /etc/login.defs)`},
	})
	delete(env.files, "/etc/login.defs")
	runConfigLeafCases(t, env, "login_defs", []cfgLeafCase{
		{"no file: defaults", `{key: PASS_MAX_DAYS, max: "365"}`, StatusFail, `PASS_MAX_DAYS "99999" (want <= 365) (default; /etc/login.defs does not exist)`},
		{"no file: encrypt default", `{key: ENCRYPT_METHOD, equals: DES}`, StatusPass, `ENCRYPT_METHOD "DES" (default; /etc/login.defs does not exist)`},
	})
}
