package check

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// debootstrapImage is the cached Debian 12 minbase image the test setup
// provides; it is only read.
const debootstrapImage = "/var/tmp/steward-debootstrap-bookworm-minbase-amd64"

// TestFindInDebianImage scans the Debian 12 image under --root for
// set-uid and set-gid files and compares the offenders with what GNU
// find reports for the same tree.
func TestFindInDebianImage(t *testing.T) {
	testimage.DebianRoot(t) // built once and cached; waits for another test building it
	if _, err := os.Stat(debootstrapImage + "/etc/debian_version"); err != nil {
		t.Fatalf("this test needs the cached Debian 12 image: %v", err)
	}
	env := NewEnv(context.Background(), Config{Root: debootstrapImage}, inventory.Document{})
	for _, perm := range []string{"-4000", "-2000"} {
		out, err := exec.Command("find", debootstrapImage, "-xdev", "-type", "f", "-perm", perm).Output()
		if err != nil {
			t.Fatalf("GNU find: %v", err)
		}
		var want []string
		for _, l := range strings.Fields(string(out)) {
			want = append(want, strings.TrimPrefix(l, debootstrapImage))
		}
		sort.Strings(want)
		if len(want) < 3 {
			t.Fatalf("GNU find found only %v", want)
		}
		key := map[string]string{"-4000": "suid", "-2000": "sgid"}[perm]
		r := evalFind(t, env, `{paths: [/], type: file, `+key+`: true, report: 100, max_matches: 100}`)
		if r.Status != policy.StatusPass || len(r.Evidence) != 1 {
			t.Fatalf("%s: %s %s %+v", key, r.Status, r.Error, r.Evidence)
		}
		var got []string
		for _, m := range regexp.MustCompile(`(/[^ ,]+) \(mode`).FindAllStringSubmatch(r.Evidence[0].Detail, -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: find leaf %v\nGNU find %v", key, got, want)
		}
	}
	// chage is set-gid shadow in Debian: the group name is the image's.
	r := evalFind(t, env, `{paths: [/usr/bin], name: chage, group_not: [root]}`)
	if !strings.Contains(r.Evidence[0].Detail, "/usr/bin/chage (mode 2755, owner root, group shadow)") {
		t.Errorf("chage: %+v", r.Evidence)
	}
	homes, err := env.(*liveEnv).HomeDirs(context.Background())
	if err != nil || len(homes) != 1 || homes[0] != (policy.HomeDir{Account: "root", UID: 0, Dir: "/root"}) {
		t.Errorf("image homes %+v, %v; want only root (sync's /bin/sync is interactive but uid 4 < UID_MIN 1000)", homes, err)
	}
}

// TestFileGroupInDebianImage: the file leaf's group and bit keys on the
// image's /etc/shadow (root:shadow 0640 in Debian 12).
func TestFileGroupInDebianImage(t *testing.T) {
	testimage.DebianRoot(t) // built once and cached; waits for another test building it
	if _, err := os.Stat(debootstrapImage + "/etc/shadow"); err != nil {
		t.Fatalf("this test needs the cached Debian 12 image: %v", err)
	}
	env := NewEnv(context.Background(), Config{Root: debootstrapImage}, inventory.Document{})
	ps, err := policy.Parse("img.yaml", []byte(`policies:
  - id: shadow
    title: shadow
    severity: high
    check: {file: {path: /etc/shadow, owner: root, group: [root, shadow], bits_clear: "0137", type: file}}
  - id: shadow-group-root
    title: shadow only root's group
    severity: low
    check: {file: {path: /etc/shadow, group: root}}
  - id: passwd-suid
    title: passwd is set-uid
    severity: low
    check: {file: {path: /usr/bin/passwd, suid: true, sgid: false, sticky: false}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"shadow":            "pass /etc/shadow: type file; /etc/shadow: mode 0640; /etc/shadow: owner root; /etc/shadow: group shadow",
		"shadow-group-root": "fail /etc/shadow: group shadow, want root",
		"passwd-suid":       "pass /usr/bin/passwd: mode 4755",
	}
	for _, p := range ps {
		r := policy.Evaluate(context.Background(), p, env)
		if got := string(r.Status) + " " + r.Evidence[0].Detail; got != want[p.ID] {
			t.Errorf("%s: %s %s\nwant %s", p.ID, got, r.Error, want[p.ID])
		}
	}
}
