package check

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// debianImage is the cached Debian 12 minbase tree the suite provides.
const debianImage = "/var/tmp/steward-debootstrap-bookworm-minbase-amd64"

func evalSettingLive(t *testing.T, env policy.Env, check string) policy.Result {
	t.Helper()
	ps, err := policy.Parse("setting.yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: {setting: "+check+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return policy.Evaluate(context.Background(), ps[0], env)
}

func settingDetail(r policy.Result) string {
	var b strings.Builder
	for _, e := range r.Evidence {
		b.WriteString(e.Detail + "\n")
	}
	return b.String()
}

// TestSettingLiveJournald reads this machine's journald.conf and compares
// the leaf's answer for Storage and Compress with a plain scan of the file
// (uncommented "Key=" lines; the file has the one [Journal] section).
func TestSettingLiveJournald(t *testing.T) {
	const conf = "/etc/systemd/journald.conf"
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("this test needs systemd's %s on the Debian test machine: %v", conf, err)
	}
	for _, dir := range []string{"/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd"} {
		if m, _ := filepath.Glob(dir + "/journald.conf.d/*.conf"); len(m) > 0 {
			t.Fatalf("this test expects no journald drop-ins on the machine, found %v", m)
		}
	}
	if n := bytes.Count(data, []byte("\n[")) + bytes.Count(data[:min(1, len(data))], []byte("[")); n != 1 {
		t.Fatalf("%s has %d sections, the test expects only [Journal]", conf, n)
	}
	env := NewEnv(context.Background(), Config{}, inventory.Document{})
	for _, key := range []string{"Storage", "Compress", "ForwardToSyslog"} {
		// Independent fact: the last uncommented assignment, by regexp.
		re := regexp.MustCompile(`(?m)^[ \t]*` + key + `[ \t]*=[ \t]*(.*?)[ \t]*$`)
		var want *string
		line := 0
		for _, m := range re.FindAllSubmatchIndex(data, -1) {
			v := string(data[m[2]:m[3]])
			want = &v
			line = bytes.Count(data[:m[0]], []byte("\n")) + 1
		}
		if want == nil {
			r := evalSettingLive(t, env, `{format: systemd, path: `+conf+`, section: Journal, key: `+key+`, set: false}`)
			if r.Status != policy.StatusPass || !strings.Contains(settingDetail(r), "[Journal] "+key+" not set; read 1 files: "+conf) {
				t.Errorf("%s: %s %q\n%s", key, r.Status, r.Error, settingDetail(r))
			}
			continue
		}
		r := evalSettingLive(t, env, `{format: systemd, path: `+conf+`, section: Journal, key: `+key+`, equals: "`+*want+`"}`)
		if r.Status != policy.StatusPass || !strings.Contains(settingDetail(r), conf+":"+strconv.Itoa(line)) {
			t.Errorf("%s: %s %q\n%s", key, r.Status, r.Error, settingDetail(r))
		}
	}
}

// copyFromImage copies files of the cached Debian 12 image into root.
func copyFromImage(t *testing.T, root string, files ...string) {
	t.Helper()
	testimage.DebianRoot(t) // built once and cached; waits for another test building it
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(debianImage, f))
		if err != nil {
			t.Fatalf("this test needs the cached Debian 12 image at %s: %v", debianImage, err)
		}
		writeRootFile(t, root, f, string(data))
	}
}

func writeRootFile(t *testing.T, root, p, data string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// uncommentedLines counts lines of a file that are not blank or "#"
// comments and start with prefix, by a plain line scan.
func uncommentedLines(t *testing.T, file, prefix string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") && strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// TestSettingImageRoot checks the leaf under --root: the Debian 12 image
// as shipped, and a copy of its files with site drop-ins added.
func TestSettingImageRoot(t *testing.T) {
	ctx := context.Background()
	testimage.DebianRoot(t) // built once and cached; waits for another test building it
	// As shipped: faillock.conf and limits.conf hold only comments.
	for _, c := range []struct{ file, prefix string }{{"etc/security/faillock.conf", "deny"}, {"etc/security/limits.conf", "*"}} {
		if n := uncommentedLines(t, filepath.Join(debianImage, c.file), c.prefix); n != 0 {
			t.Fatalf("the image's %s has %d active %q lines; the test expects the Debian default", c.file, n, c.prefix)
		}
	}
	image := NewEnv(ctx, Config{Root: debianImage}, inventory.Document{})
	r := evalSettingLive(t, image, `{format: keyvalue, path: /etc/security/faillock.conf, key: deny, max: 5}`)
	if r.Status != policy.StatusFail || !strings.Contains(settingDetail(r), "deny not set (want <= 5); read 1 files: /etc/security/faillock.conf") {
		t.Errorf("image faillock: %s %q\n%s", r.Status, r.Error, settingDetail(r))
	}
	r = evalSettingLive(t, image, `{format: limits, path: /etc/security/limits.conf, dropins: /etc/security/limits.d/*.conf, key: "* hard core", equals: "0"}`)
	if r.Status != policy.StatusFail || !strings.Contains(settingDetail(r), `* hard core not set (want = "0")`) {
		t.Errorf("image limits: %s %q\n%s", r.Status, r.Error, settingDetail(r))
	}

	// A copy with site configuration.
	root := t.TempDir()
	copyFromImage(t, root, "etc/security/faillock.conf", "etc/security/limits.conf", "etc/profile", "etc/bash.bashrc")
	faillock, _ := os.ReadFile(filepath.Join(root, "etc/security/faillock.conf"))
	lines := bytes.Count(faillock, []byte("\n"))
	writeRootFile(t, root, "etc/security/faillock.conf", string(faillock)+"deny = 5\nunlock_time = 900\neven_deny_root\n")
	writeRootFile(t, root, "etc/security/limits.d/50-core.conf", "*\thard\tcore\t0\n")
	writeRootFile(t, root, "etc/profile.d/50-umask.sh", "umask 027\n")
	live, err := os.ReadFile("/etc/systemd/journald.conf")
	if err != nil {
		t.Fatalf("this test copies the machine's journald.conf: %v", err)
	}
	writeRootFile(t, root, "etc/systemd/journald.conf", string(live))
	writeRootFile(t, root, "usr/lib/systemd/journald.conf.d/50-vendor.conf", "[Journal]\nStorage=volatile\n")
	writeRootFile(t, root, "usr/lib/systemd/journald.conf.d/60-vendor.conf", "[Journal]\nStorage=none\n")
	writeRootFile(t, root, "etc/systemd/journald.conf.d/50-vendor.conf", "[Journal]\nStorage=persistent\n")
	// Masked under the image: a link to /dev/null (which the image's root
	// resolves, not this machine's).
	if err := os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/journald.conf.d/60-vendor.conf")); err != nil {
		t.Fatal(err)
	}
	// A symbolic link loop among the drop-ins.
	if err := os.Symlink("loop.sh", filepath.Join(root, "etc/profile.d/loop.sh")); err != nil {
		t.Fatal(err)
	}
	env := NewEnv(ctx, Config{Root: root}, inventory.Document{})
	checks := []struct {
		check  string
		status policy.Status
		want   string
	}{
		{`{format: keyvalue, path: /etc/security/faillock.conf, key: deny, max: 5, min: 1}`, policy.StatusPass,
			`deny "5" from /etc/security/faillock.conf:` + strconv.Itoa(lines+1)},
		{`{format: keyvalue, path: /etc/security/faillock.conf, key: unlock_time, equals: "900"}`, policy.StatusPass, `unlock_time "900"`},
		{`{format: keyvalue, path: /etc/security/faillock.conf, key: even_deny_root, set: true}`, policy.StatusPass, `even_deny_root ""`},
		{`{format: limits, path: /etc/security/limits.conf, dropins: /etc/security/limits.d/*.conf, key: "* hard core", equals: "0"}`, policy.StatusPass,
			`* hard core "0" from /etc/security/limits.d/50-core.conf:1`},
		{`{format: systemd, path: /etc/systemd/journald.conf, section: Journal, key: Storage, equals: persistent}`, policy.StatusPass,
			`[Journal] Storage "persistent" from /etc/systemd/journald.conf.d/50-vendor.conf:2; /etc/systemd/journald.conf.d/50-vendor.conf overrides /usr/lib/systemd/journald.conf.d/50-vendor.conf`},
		{`{format: shell, path: /etc/profile, dropins: [/etc/profile.d/*.sh], key: umask, bits_set: "027"}`, policy.StatusError,
			`too many levels of symbolic links`},
	}
	for _, c := range checks {
		r := evalSettingLive(t, env, c.check)
		if r.Status != c.status || !strings.Contains(settingDetail(r)+r.Error, c.want) {
			t.Errorf("%s: %s %q\n%s\nwant %s with %q", c.check, r.Status, r.Error, settingDetail(r), c.status, c.want)
		}
	}
	// The masked drop-in's Storage=none was not read.
	r = evalSettingLive(t, env, `{format: systemd, path: /etc/systemd/journald.conf, section: Journal, key: Storage, not_equals: none}`)
	if r.Status != policy.StatusPass || !strings.Contains(settingDetail(r), "60-vendor.conf is masked") {
		t.Errorf("masking under --root: %s %q\n%s", r.Status, r.Error, settingDetail(r))
	}
	// Without the loop, the image's /etc/profile (no umask) and the drop-in.
	if err := os.Remove(filepath.Join(root, "etc/profile.d/loop.sh")); err != nil {
		t.Fatal(err)
	}
	if n := uncommentedLines(t, filepath.Join(root, "etc/profile"), "umask"); n != 0 {
		t.Fatalf("the image's /etc/profile sets umask %d times; the test expects none", n)
	}
	r = evalSettingLive(t, env, `{format: shell, path: /etc/profile, dropins: [/etc/profile.d/*.sh], key: umask, bits_set: "027"}`)
	if r.Status != policy.StatusPass || !strings.Contains(settingDetail(r), `umask "027" at /etc/profile.d/50-umask.sh:1 (all 1 occurrences pass)`) {
		t.Errorf("umask: %s %q\n%s", r.Status, r.Error, settingDetail(r))
	}
}
