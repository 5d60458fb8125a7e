package policy

import (
	"context"
	"strings"
	"testing"
)

func pamEnv(t *testing.T, drop ...string) *fakeEnv {
	env := newFakeEnv(t, "debian12.json")
	env.files = treeFiles(t, "pam")
	for _, d := range drop {
		delete(env.files, "/etc/pam.d/"+d)
	}
	return env
}

func TestPAMLeaf(t *testing.T) {
	env := pamEnv(t)
	const pw = "/etc/pam.d/common-password"
	runConfigLeafCases(t, env, "pam", []cfgLeafCase{
		{"present via @include", `{service: passwd, type: password, module: pam_pwquality.so}`, StatusPass,
			"passwd password: requisite pam_pwquality.so retry=3 (line 7 of " + pw + ", via @include)"},
		{"present in the file itself", `{service: common-password, type: password, module: pam_pwquality}`, StatusPass,
			"common-password password: requisite pam_pwquality.so retry=3 (line 7 of " + pw + ")"},
		// The commented "#@include common-auth" does not count.
		{"commented include", `{service: passwd, type: auth, module: pam_unix.so, present: false}`, StatusPass,
			"passwd auth: no pam_unix.so line"},
		{"control", `{service: passwd, type: password, module: pam_pwquality.so, control: [required, requisite]}`, StatusPass,
			"passwd password: requisite pam_pwquality.so retry=3 (line 7 of " + pw + ", via @include)"},
		// The bracket form is compared with whitespace normalised.
		{"bracket control", `{service: common-password, type: password, module: pam_unix.so, control: ["[success=1   default=ignore]"]}`, StatusPass,
			"common-password password: [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt (line 10 of " + pw + ")"},
		{"wrong control", `{service: common-password, type: password, module: pam_unix.so, control: [required]}`, StatusFail,
			"control [success=1 default=ignore], want one of required: common-password password: [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt (line 10 of " + pw + ")"},
		// A continuation line carries enforce_for_root and use_authtok.
		{"continued line args", `{service: common-password, type: password, module: pam_pwhistory.so, with_args: [enforce_for_root, use_authtok, remember]}`, StatusPass,
			"common-password password: required pam_pwhistory.so remember=24 enforce_for_root use_authtok (line 8 of " + pw + ")"},
		{"arg value", `{service: passwd, type: password, module: pam_pwhistory.so, arg: remember, min: "24"}`, StatusPass,
			"passwd password: required pam_pwhistory.so remember=24 enforce_for_root use_authtok (line 8 of " + pw + ", via @include)"},
		{"arg value too low", `{service: passwd, type: password, module: pam_pwhistory.so, arg: remember, min: "25"}`, StatusFail,
			`remember "24" (want >= 25): passwd password: required pam_pwhistory.so remember=24 enforce_for_root use_authtok (line 8 of ` + pw + ", via @include)"},
		{"arg absent", `{service: passwd, type: password, module: pam_pwquality.so, arg: minlen, min: "14"}`, StatusFail,
			`minlen not set (want >= 14): passwd password: requisite pam_pwquality.so retry=3 (line 7 of ` + pw + ", via @include)"},
		// The inline comment after yescrypt is not an argument.
		{"without_args", `{service: common-auth, type: auth, module: pam_unix.so, without_args: [nullok]}`, StatusFail,
			"has argument nullok: common-auth auth: [success=1 default=ignore] pam_unix.so nullok (line 17 of /etc/pam.d/common-auth)"},
		{"without_args clean", `{service: common-password, type: password, module: pam_unix.so, without_args: [comment, nullok, "#"]}`, StatusPass,
			"common-password password: [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt (line 10 of " + pw + ")"},
		{"before", `{service: passwd, type: password, module: pam_pwhistory, before: pam_unix.so}`, StatusPass,
			"passwd password: required pam_pwhistory.so remember=24 enforce_for_root use_authtok (line 8 of " + pw + ", via @include)"},
		{"not before", `{service: common-password, type: password, module: pam_deny.so, before: pam_unix.so}`, StatusFail,
			"common-password password: requisite pam_deny.so (line 12 of " + pw + ") comes after common-password password: [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt (line 10 of " + pw + ")"},
		// "auth include pam-extra" takes only pam-extra's auth lines.
		{"include control, type filtered", `{service: sshd, type: auth, module: pam_faillock.so, with_args: [preauth]}`, StatusPass,
			"sshd auth: required pam_faillock.so preauth (line 1 of /etc/pam.d/pam-extra, via include)"},
		{"include control skips other types", `{service: sshd, type: account, module: pam_faillock.so}`, StatusFail,
			"sshd account: no pam_faillock.so line"},
		// "-session" (ignore if missing) is kept in the stack.
		{"dash type", `{service: sshd, type: session, module: pam_systemd.so, control: [optional]}`, StatusPass,
			"sshd session: optional pam_systemd.so (line 5 of /etc/pam.d/sshd)"},
		{"missing service", `{service: nosuch, type: auth, module: pam_unix.so}`, StatusFail, "/etc/pam.d/nosuch does not exist"},
		{"missing service, absent wanted", `{service: nosuch, type: auth, module: pam_unix.so, present: false}`, StatusPass, "/etc/pam.d/nosuch does not exist"},
		{"malformed lines noted", `{service: broken, type: auth, module: pam_unix.so}`, StatusPass,
			`broken auth: required pam_unix.so (line 4 of /etc/pam.d/broken) (/etc/pam.d/broken:1: malformed line skipped; /etc/pam.d/broken:2: unknown type "bogus" skipped; /etc/pam.d/broken includes /etc/pam.d/no-such-file, which does not exist)`},
	})
	r := Evaluate(context.Background(), onePolicy(t, `{pam: {service: loop-a, type: auth, module: pam_env.so}}`), env)
	if r.Status != StatusError || r.Error != "check.pam: PAM include loop: /etc/pam.d/loop-a -> /etc/pam.d/loop-b -> /etc/pam.d/loop-a" {
		t.Errorf("loop: %s %q", r.Status, r.Error)
	}
	// "*": every service file; pam_unix's password line is only in
	// services that include common-password.
	all := pamEnv(t, "loop-a", "loop-b", "broken", "pam-extra")
	r = Evaluate(context.Background(), onePolicy(t, `{pam: {service: "*", type: auth, module: pam_unix.so}}`), all)
	if r.Status != StatusFail || !strings.HasPrefix(r.Evidence[0].Detail, "common-account auth: no pam_unix.so line; common-password auth: no pam_unix.so line; common-session auth: no pam_unix.so line; passwd auth: no pam_unix.so line") {
		t.Errorf("*: %s\n%s", r.Status, evidenceText(r.Evidence))
	}
	r = Evaluate(context.Background(), onePolicy(t, `{pam: {service: "*", type: auth, module: pam_rhosts.so, present: false}}`), all)
	if r.Status != StatusPass || !strings.HasSuffix(r.Evidence[0].Detail, "; and 5 more services") {
		t.Errorf("* absent: %s\n%s", r.Status, evidenceText(r.Evidence))
	}
}

func TestPAMParse(t *testing.T) {
	lines, nums := pamLogicalLines([]byte("# c\nauth required \\\n  pam_env.so a=1 # tail\n\n  \\\n\nsession [ success=ok\tdefault=bad ] pam_x.so [arg with spaces\\] ok] last\n"))
	if len(lines) != 2 || lines[0] != "auth required    pam_env.so a=1" || nums[0] != 2 || nums[1] != 7 {
		t.Fatalf("lines %q numbers %v", lines, nums)
	}
	tok := pamTokens(lines[1])
	want := []string{"session", "[ success=ok\tdefault=bad ]", "pam_x.so", `[arg with spaces\] ok]`, "last"}
	if strings.Join(tok, "|") != strings.Join(want, "|") {
		t.Errorf("tokens %q, want %q", tok, want)
	}
	if pamNormControl(tok[1]) != "[success=ok default=bad]" || pamModuleName("/lib/security/pam_x.so") != "pam_x" {
		t.Errorf("normalised %q %q", pamNormControl(tok[1]), pamModuleName("/lib/security/pam_x.so"))
	}
}
