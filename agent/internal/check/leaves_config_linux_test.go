package check

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// configImage is the cached Debian 12 image the suite reads (never writes).
const configImage = "/var/tmp/steward-debootstrap-bookworm-minbase-amd64"

// configRoots are the systems the config leaves are checked on: this
// machine and the cached image under --root.
func configRoots(t *testing.T) map[string]string {
	t.Helper()
	testimage.DebianRoot(t) // built once and cached; waits for another test building it
	if _, err := os.Stat(filepath.Join(configImage, "etc", "os-release")); err != nil {
		t.Fatalf("this test needs the cached Debian 12 image at %s: %v", configImage, err)
	}
	osRelease, err := os.ReadFile("/etc/os-release")
	if err != nil || !strings.Contains(string(osRelease), "\nID=debian\n") {
		t.Fatalf("this test needs the Debian machine the suite is specified for; /etc/os-release: %v", err)
	}
	return map[string]string{"live": "", "image": configImage}
}

// sh runs a shell pipeline and returns its trimmed output.
func shOut(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

// configResult evaluates one check under root and returns the status and
// the single evidence detail.
func configResult(t *testing.T, root, check string) (policy.Status, string) {
	t.Helper()
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{})
	r := evaluate(t, env, check)
	if len(r.Evidence) != 1 {
		t.Fatalf("%s: evidence %+v (error %q)", check, r.Evidence, r.Error)
	}
	return r.Status, r.Evidence[0].Detail
}

// TestLoginDefsLive compares the leaf's effective values with awk's
// reading of the same file (last assignment of the first word wins).
func TestLoginDefsLive(t *testing.T) {
	for name, root := range configRoots(t) {
		file := filepath.Join(root, "/etc/login.defs")
		for _, key := range []string{"PASS_MAX_DAYS", "PASS_MIN_DAYS", "UMASK", "UID_MIN", "ENCRYPT_METHOD"} {
			got := shOut(t, fmt.Sprintf(`awk '$1 == %q && NF > 1 { v = $2; n = NR } END { print v " " n }' %s`, key, file))
			val, line, _ := strings.Cut(got, " ")
			if val == "" {
				t.Fatalf("%s: %s not set in %s; the test expects Debian's file", name, key, file)
			}
			status, detail := configResult(t, root, fmt.Sprintf(`{login_defs: {key: %s, equals: %q}}`, key, val))
			want := fmt.Sprintf(`%s %q from /etc/login.defs:%s`, key, val, line)
			if status != policy.StatusPass || detail != want {
				t.Errorf("%s %s: %s %q, want pass %q", name, key, status, detail, want)
			}
		}
	}
}

// TestPAMLive: login's auth stack reaches pam_unix through "@include
// common-auth"; grep finds the include and the uncommented module line.
func TestPAMLive(t *testing.T) {
	for name, root := range configRoots(t) {
		dir := filepath.Join(root, "/etc/pam.d")
		shOut(t, fmt.Sprintf(`grep -qE '^@include[[:space:]]+common-auth' %s/login`, dir))
		line := shOut(t, fmt.Sprintf(`grep -nE '^[[:space:]]*auth[[:space:]].*pam_unix\.so' %s/common-auth | head -1 | cut -d: -f1`, dir))
		status, detail := configResult(t, root, `{pam: {service: login, type: auth, module: pam_unix.so, control: ["[success=1 default=ignore]"]}}`)
		suffix := fmt.Sprintf("(line %s of /etc/pam.d/common-auth, via @include)", line)
		if status != policy.StatusPass || !strings.HasPrefix(detail, "login auth: [success=1 default=ignore] pam_unix.so") || !strings.HasSuffix(detail, suffix) {
			t.Errorf("%s: %s %q, want pass ending %q", name, status, detail, suffix)
		}
		// passwd's password stack holds pam_unix with yescrypt (Debian 12's default).
		shOut(t, fmt.Sprintf(`grep -qE '^[[:space:]]*password[[:space:]].*pam_unix\.so.*yescrypt' %s/common-password`, dir))
		status, detail = configResult(t, root, `{pam: {service: passwd, type: password, module: pam_unix, with_args: [yescrypt], without_args: [nullok]}}`)
		if status != policy.StatusPass {
			t.Errorf("%s passwd: %s %q", name, status, detail)
		}
		// No service of a stock Debian 12 uses pam_rhosts.
		if out, _ := exec.Command("grep", "-rlE", `^[^#]*pam_rhosts`, dir).Output(); len(out) != 0 {
			t.Fatalf("%s: pam_rhosts configured in %s", name, out)
		}
		status, detail = configResult(t, root, `{pam: {service: "*", type: auth, module: pam_rhosts.so, present: false}}`)
		if status != policy.StatusPass {
			t.Errorf("%s *: %s %q", name, status, detail)
		}
	}
}

// TestAccountsLive checks uniqueness and uid 0 against awk's reading of
// passwd and group (and getent on the live machine).
func TestAccountsLive(t *testing.T) {
	for name, root := range configRoots(t) {
		passwd, group := filepath.Join(root, "/etc/passwd"), filepath.Join(root, "/etc/group")
		source := "cat " + passwd
		if root == "" {
			source = "getent passwd"
		}
		uid0 := shOut(t, source+` | awk -F: '$3 == 0 { print $1 }' | paste -sd, -`)
		if uid0 != "root" {
			t.Fatalf("%s: uid 0 accounts %q; the test expects only root", name, uid0)
		}
		status, detail := configResult(t, root, `{accounts: {from: users, where: {uid_max: 0, name_not: [root]}, empty: true}}`)
		if status != policy.StatusPass || detail != "no users selected in /etc/passwd" {
			t.Errorf("%s uid 0: %s %q", name, status, detail)
		}
		groups := shOut(t, fmt.Sprintf(`grep -cv '^#' %s`, group))
		if dup := shOut(t, fmt.Sprintf(`cut -d: -f3 %s | sort | uniq -d`, group)); dup != "" {
			t.Fatalf("%s: duplicate gids %q", name, dup)
		}
		status, detail = configResult(t, root, `{accounts: {from: groups, unique: gid}}`)
		if want := "gid unique among " + groups + " groups"; status != policy.StatusPass || detail != want {
			t.Errorf("%s gid: %s %q, want %q", name, status, detail, want)
		}
		// Every user's primary group exists: awk joins the two files.
		missing := shOut(t, fmt.Sprintf(`awk -F: 'NR == FNR { g[$3] = 1; next } !($4 in g) { print $1 }' %s %s`, group, passwd))
		status, detail = configResult(t, root, `{accounts: {from: users, primary_group_exists: true}}`)
		if (missing == "") != (status == policy.StatusPass) {
			t.Errorf("%s primary groups: awk says missing %q, leaf %s %q", name, missing, status, detail)
		}
		// Every account with a login shell per /etc/shells.
		shells := shOut(t, fmt.Sprintf(`awk -F: 'NR == FNR { if ($0 ~ /^\//) s[$0] = 1; next } ($7 in s) && $7 !~ /nologin$/ { print $1 }' %s %s | paste -sd, -`, filepath.Join(root, "/etc/shells"), passwd))
		status, detail = configResult(t, root, `{accounts: {from: users, where: {shell_login: true}, field: name, matches: '.'}}`)
		if want := "name passes for " + strings.ReplaceAll(shells, ",", ", "); status != policy.StatusPass || detail != want {
			t.Errorf("%s shells: %s %q, want %q", name, status, detail, want)
		}
	}
}

// TestShadowLive compares root's aging with getent (live) or awk (image).
func TestShadowLive(t *testing.T) {
	for name, root := range configRoots(t) {
		source := "cat " + filepath.Join(root, "/etc/shadow")
		if root == "" {
			source = "getent shadow"
		}
		maxDays := shOut(t, source+` | awk -F: '$1 == "root" { print $5 }'`)
		pw := shOut(t, source+` | awk -F: '$1 == "root" { print substr($2, 1, 1) }'`)
		if maxDays == "" || pw != "*" {
			t.Fatalf("%s: root's shadow entry: max_days %q, password starts %q; the test expects Debian's *", name, maxDays, pw)
		}
		status, detail := configResult(t, root, fmt.Sprintf(`{shadow: {accounts: [root], field: max_days, equals: %q}}`, maxDays))
		if want := fmt.Sprintf(`max_days of accounts root: root %q`, maxDays); status != policy.StatusPass || detail != want {
			t.Errorf("%s: %s %q, want %q", name, status, detail, want)
		}
		status, detail = configResult(t, root, `{shadow: {accounts: [root], field: password, equals: none}}`)
		if status != policy.StatusPass || detail != `password of accounts root: root "none"` {
			t.Errorf("%s password: %s %q", name, status, detail)
		}
		if regexp.MustCompile(`\$[0-9a-z]+\$`).MatchString(detail) {
			t.Errorf("hash quoted: %q", detail)
		}
	}
}

// TestSSHDUnderRoot: neither this machine nor the image has an sshd; a
// copy of the image's /etc/ssh tree gets one with a drop-in, read through
// the --root Env's glob.
func TestSSHDUnderRoot(t *testing.T) {
	for name, root := range configRoots(t) {
		if _, err := os.Stat(filepath.Join(root, "/etc/ssh/sshd_config")); err == nil {
			t.Fatalf("%s has an sshd_config; the test expects none", name)
		}
		status, detail := configResult(t, root, `{sshd: {key: PermitRootLogin, equals: "no"}}`)
		if status != policy.StatusFail || detail != "/etc/ssh/sshd_config does not exist" {
			t.Errorf("%s: %s %q", name, status, detail)
		}
	}
	root := t.TempDir()
	dropins := filepath.Join(root, "etc", "ssh", "sshd_config.d")
	if err := os.MkdirAll(dropins, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "etc", "ssh", "sshd_config"), "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMatch User x\n  PermitRootLogin yes\n")
	write(filepath.Join(dropins, "20-b.conf"), "PermitRootLogin prohibit-password\n")
	write(filepath.Join(dropins, "10-a.conf"), "# first\nPermitRootLogin NO\n")
	status, detail := configResult(t, root, `{sshd: {key: PermitRootLogin, equals: "no"}}`)
	want := `PermitRootLogin "no" from /etc/ssh/sshd_config.d/10-a.conf:2; Match User x (/etc/ssh/sshd_config:3) sets "yes" from /etc/ssh/sshd_config:4, not judged`
	if status != policy.StatusPass || detail != want {
		t.Errorf("%s %q, want pass %q", status, detail, want)
	}
}

// TestAccountsHomesLive: the interactive users' homes on this machine,
// judged against stat(1)'s owner and group.
func TestAccountsHomesLive(t *testing.T) {
	configRoots(t)
	// "ok" when every user at or above UID_MIN (not 65534) with a login
	// shell has a home directory owned by its uid and gid.
	want := shOut(t, `min=$(awk '$1 == "UID_MIN" { v = $2 } END { print v }' /etc/login.defs)
getent passwd | awk -F: -v min="$min" 'NR == FNR { if ($0 ~ /^\//) s[$0] = 1; next }
  $3 >= min && $3 != 65534 && ($7 in s) && $7 !~ /nologin$/ { print $1, $3, $4, $6 }' /etc/shells - |
while read name uid gid home; do
  [ -d "$home" ] && [ "$(stat -c '%u %g' "$home")" = "$uid $gid" ] || echo "bad $name"
done; echo ok`)
	status, detail := configResult(t, "", `{accounts: {from: users, where: {system: false, shell_login: true}, home_group_owned: true, home_owned: true}}`)
	if (want == "ok") != (status == policy.StatusPass) {
		t.Errorf("stat says %q; leaf %s %q", want, status, detail)
	}
}

// TestAccountsHomesUnderRoot: a copy of the image's account files with two
// users added, one home owned right and one not.
func TestAccountsHomesUnderRoot(t *testing.T) {
	configRoots(t)
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"passwd", "group", "shells", "login.defs"} {
		data, err := os.ReadFile(filepath.Join(configImage, "etc", f))
		if err != nil {
			t.Fatal(err)
		}
		switch f {
		case "passwd":
			data = append(data, "alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n"...)
		case "group":
			data = append(data, "alice:x:1000:\nbob:x:1001:\n"...)
		}
		if err := os.WriteFile(filepath.Join(etc, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for user, owner := range map[string][2]int{"alice": {1000, 1000}, "bob": {1001, 0}} {
		home := filepath.Join(root, "home", user)
		if err := os.MkdirAll(home, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, owner[0], owner[1]); err != nil {
			t.Fatalf("chown needs root: %v", err)
		}
	}
	if got := shOut(t, "stat -c '%u:%g' "+filepath.Join(root, "home", "bob")); got != "1001:0" {
		t.Fatalf("bob's home is %s", got)
	}
	status, detail := configResult(t, root, `{accounts: {from: users, where: {system: false, shell_login: true}, home_owned: true}}`)
	if status != policy.StatusPass || detail != "2 home directories checked" {
		t.Errorf("owned: %s %q", status, detail)
	}
	status, detail = configResult(t, root, `{accounts: {from: users, where: {system: false, shell_login: true}, home_group_owned: true}}`)
	if status != policy.StatusFail || detail != "bob: home /home/bob group gid 0, want 1001" {
		t.Errorf("group: %s %q", status, detail)
	}
}
