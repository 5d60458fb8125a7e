package policy

import (
	"strings"
	"testing"
)

// TestConfigLeavesValidation checks that every new key of the pam, sshd,
// login_defs, shadow and accounts leaves is validated at its line.
func TestConfigLeavesValidation(t *testing.T) {
	src := `policies:
  - id: a
    title: T
    severity: low
    check:
      all:
        - pam:
            service: "../etc/passwd"
            type: passwd
            module: pam_unix.so
            arg: remember=5
        - pam: {service: sshd, type: auth, module: pam_unix.so, present: false, with_args: [x]}
        - pam: {service: sshd, type: auth, module: pam_unix.so, min: "3"}
        - sshd: {key: "Permit Root", equals: "no"}
        - sshd: {key: PermitRootLogin, match: some, equals: "no"}
        - sshd: {key: Include, set: true}
        - sshd: {key: PermitRootLogon, equals: "no"}
        - login_defs: {key: pass_max_days, max: "365"}
        - login_defs: {key: PASS_MAX_DAYS}
        - login_defs: {key: PASS_MAX_DAYS, max: "a year"}
        - shadow: {accounts: humans, field: max_days, max: "365"}
        - shadow: {field: age, max: "365"}
        - shadow: {field: max_days, not_in_future: true}
        - accounts: {from: hosts, unique: uid}
        - accounts: {from: groups, unique: uid, home_exists: true}
        - accounts: {from: users, where: {shell_login: yes}, empty: true, unique: uid}
        - accounts: {from: users, field: uid}
        - accounts: {from: groups, where: {uid_min: 1000}, empty: true}
`
	_, err := Parse("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`bad.yaml:8: policy a: check.all[0].pam.service: "../etc/passwd" is not a file name in /etc/pam.d`,
		`bad.yaml:9: policy a: check.all[0].pam.type: "passwd" is not one of auth, account, password, session`,
		`bad.yaml:11: policy a: check.all[0].pam.arg: "remember=5": give the argument's name only`,
		`bad.yaml:12: policy a: check.all[1].pam.present: present: false cannot be combined with with_args`,
		`bad.yaml:13: policy a: check.all[2].pam.arg: required with set, equals`,
		`bad.yaml:14: policy a: check.all[3].sshd.key: "Permit Root" is not an sshd_config keyword`,
		`bad.yaml:15: policy a: check.all[4].sshd.match: "some" is not global or all`,
		`bad.yaml:16: policy a: check.all[5].sshd.key: Include is a directive the leaf follows`,
		`bad.yaml:17: policy a: check.all[6].sshd.key: "PermitRootLogon" is not a keyword of OpenSSH 9.2's sshd_config (misspelt?)`,
		`bad.yaml:18: policy a: check.all[7].login_defs.key: "pass_max_days" is not a login.defs setting name`,
		`bad.yaml:19: policy a: check.all[8].login_defs: needs at least one of set, equals`,
		`bad.yaml:20: policy a: check.all[9].login_defs.max: "a year" is not a whole number`,
		`bad.yaml:21: policy a: check.all[10].shadow.accounts: "humans" is not all, with_password, interactive or a list of names`,
		`bad.yaml:22: policy a: check.all[11].shadow.field: "age" is not one of last_change`,
		`bad.yaml:23: policy a: check.all[12].shadow.not_in_future: only applies to field: last_change`,
		`bad.yaml:24: policy a: check.all[13].accounts.from: "hosts" is not users or groups`,
		`bad.yaml:25: policy a: check.all[14].accounts.home_exists: only applies to from: users`,
		`bad.yaml:25: policy a: check.all[14].accounts.unique: "uid" is not one of name, gid`,
		`bad.yaml:26: policy a: check.all[15].accounts.where.shell_login: must be true or false, not "yes"`,
		`bad.yaml:26: policy a: check.all[15].accounts.empty: empty: true cannot be combined with unique`,
		`bad.yaml:27: policy a: check.all[16].accounts.field: needs at least one of set, equals`,
		`bad.yaml:28: policy a: check.all[17].accounts.where.uid_min: only applies to from: users`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q", w)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s", msg)
	}
}
