package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// These tests cover the inventory fields that server-side joins read:
// users' groups, homes and password aging, the groups list, mount options
// and sysctl values. Facts come from shadow's own passwd(1) -S and
// util-linux's findmnt, run on the same fixture files, and from the
// fixture files as written.

// usersDetailRoot copies testdata/users-detail into a new root and makes
// the home directories the cases need: alice's owned by her, carol's by
// root, dave's through an absolute link (/home/dave -> /srv/dave) that
// must resolve inside the root, and loop's a link to itself.
func usersDetailRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test gives home directories other owners, which needs root")
	}
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "users-detail"))); err != nil {
		t.Fatal(err)
	}
	mk := func(dir string, uid, gid int, mode uint32) {
		p := filepath.Join(root, dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		// syscall's chmod takes the set-group-id bit as written (0o2000).
		if err := syscall.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("root", 0, 0, 0o700)
	mk("usr/sbin", 0, 0, 0o755)
	mk("home/alice", 1000, 1000, 0o750)
	mk("home/carol", 0, 0, 0o755)
	mk("srv/dave", 1003, 1003, 0o2770)
	for link, target := range map[string]string{"home/dave": "/srv/dave", "home/loop": "/home/loop"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	// A file where a home should be is not a home.
	if err := os.WriteFile(filepath.Join(root, "home/weird"), []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func usersDetail(t *testing.T, root string) inventory.Users {
	t.Helper()
	v, err := collectUsers(context.Background(), Config{Root: root, kernel: fakeKernel{Arch: "x86_64"}}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return v.(inventory.Users)
}

func TestUsersDetailFixture(t *testing.T) {
	root := usersDetailRoot(t)
	users := usersDetail(t, root)
	byName := make(map[string]inventory.User)
	for _, u := range users.Users {
		byName[u.Name] = u
	}
	str := func(p *int64) string {
		if p == nil {
			return "absent"
		}
		return strconv.FormatInt(*p, 10)
	}
	pw := func(name string) inventory.Password {
		if p := byName[name].Password; p != nil {
			return *p
		}
		return inventory.Password{State: "no password info"}
	}
	exists := func(name string) string {
		switch p := byName[name].HomeExists; {
		case p == nil:
			return "not looked at"
		case *p:
			return "yes"
		}
		return "no"
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"primary group by gid", byName["alice"].Group, "alice"},
		{"gid without a group line", byName["bob"].GID + "/" + byName["bob"].Group, "1001/"},
		{"shared primary group", byName["carol"].Group, "users"},
		{"duplicate group name keeps the first line", byName["legacy"].Group, "users"},
		{"home owned by its user", byName["alice"].HomeUID + ":" + byName["alice"].HomeGID + " " + byName["alice"].HomeMode, "1000:1000 0750"},
		{"home owned by someone else", byName["carol"].HomeUID + " " + byName["carol"].HomeMode, "0 0755"},
		{"missing home", exists("bob"), "no"},
		{"home through an absolute link inside the root", exists("dave") + " " + byName["dave"].HomeUID + " " + byName["dave"].HomeMode, "yes 1003 2770"},
		{"home link loop", exists("loop"), "no"},
		{"file instead of a home", exists("weird"), "no"},
		{"/nonexistent", exists("nobody"), "no"},
		{"yescrypt", pw("root").State, "hashed:yescrypt"},
		{"star is no password", pw("daemon").State, "none"},
		{"sha512crypt", pw("alice").State, "hashed:sha512crypt"},
		{"empty", pw("bob").State, "empty"},
		{"locked keeps no method", pw("carol").State, "locked"},
		{"bcrypt", pw("dave").State, "hashed:bcrypt"},
		{"md5crypt", pw("loop").State, "hashed:md5crypt"},
		{"hash in passwd itself", pw("legacy").State, "hashed:des"},
		{"unknown method", pw("weird").State, "hashed:unknown"},
		{"NP is no hash", pw("nohash").State, "none"},
		{"aging", str(pw("alice").LastChange) + " " + str(pw("alice").MinDays) + " " + str(pw("alice").MaxDays) + " " +
			str(pw("alice").WarnDays) + " " + str(pw("alice").Inactive) + " " + str(pw("alice").Expire), "19600 1 365 14 30 absent"},
		{"last change 0 is kept", str(pw("dave").LastChange), "0"},
		{"expire", str(pw("dave").Expire), "20000"},
		{"empty aging fields absent", str(pw("carol").LastChange) + " " + str(pw("carol").MaxDays), "absent absent"},
		{"no shadow line for a passwd hash: no aging", str(pw("legacy").MaxDays), "absent"},
		{"groups listed", len(users.Groups), 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	wantGroups := []inventory.Group{
		{Name: "root", GID: "0"}, {Name: "daemon", GID: "1"},
		{Name: "users", GID: "100", Members: []string{"alice", "dave"}},
		{Name: "sudo", GID: "27", Members: []string{"alice", "carol"}},
		{Name: "alice", GID: "1000"}, {Name: "dave", GID: "1003"}, {Name: "loop", GID: "1004"},
		{Name: "nogroup", GID: "65534"},
	}
	got, _ := json.Marshal(users.Groups)
	want, _ := json.Marshal(wantGroups)
	if string(got) != string(want) {
		t.Errorf("groups\n got %s\nwant %s", got, want)
	}
}

// TestUsersDetailMatchesPasswdS compares the password state and aging
// with `passwd -R root -S user` (shadow's own reading of the same files):
// L (locked or "*"), NP (empty), P (anything else), then last change,
// min, max, warn and inactive days, -1 for an empty field.
func TestUsersDetailMatchesPasswdS(t *testing.T) {
	root := usersDetailRoot(t)
	users := usersDetail(t, root)
	comparePasswdS(t, root, users)
	// The hashes and salts of the fixture appear nowhere in the section.
	data, err := inventory.Canonical(users)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"Invented", "InVeNtEd", "j9T", "$6$", "$y$"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("section contains %q from a password field", secret)
		}
	}
}

// TestUsersDetailDebianImage collects users from the cached Debian 12
// image (read only) and compares password state and aging with passwd -S
// on a copy of its account files, and every home with stat inside the
// image.
func TestUsersDetailDebianImage(t *testing.T) {
	image := debootstrapRoot(t)
	users := usersDetail(t, image)
	copyRoot := t.TempDir()
	if err := os.MkdirAll(filepath.Join(copyRoot, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"passwd", "shadow", "group", "login.defs"} {
		data, err := os.ReadFile(filepath.Join(image, "etc", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyRoot, "etc", f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	comparePasswdS(t, copyRoot, users)
	if len(users.Users) < 15 || len(users.Groups) < 30 {
		t.Errorf("%d users and %d groups in a Debian 12 base image", len(users.Users), len(users.Groups))
	}
	for _, u := range users.Users {
		// chroot's stat resolves links inside the image as the
		// collector must.
		out, err := exec.Command("chroot", image, "/usr/bin/stat", "-L", "-c", "%F %u %g %a", u.Home).Output()
		want := "missing"
		if err == nil && strings.HasPrefix(string(out), "directory ") {
			f := strings.Fields(string(out))
			mode, _ := strconv.ParseUint(f[3], 8, 32)
			want = fmt.Sprintf("%s %s %04o", f[1], f[2], mode)
		}
		got := "missing"
		if u.HomeExists != nil && *u.HomeExists {
			got = u.HomeUID + " " + u.HomeGID + " " + u.HomeMode
		}
		if got != want {
			t.Errorf("%s home %s: %s, stat in the image says %s", u.Name, u.Home, got, want)
		}
	}
}

// comparePasswdS compares each account's password state and aging with
// `passwd -R root -S user` (shadow's own reading of the same files): L
// (locked or "*"), NP (empty), P (anything else), then last change, min,
// max, warn and inactive days, -1 for an empty field.
func comparePasswdS(t *testing.T, root string, users inventory.Users) {
	t.Helper()
	if _, err := exec.LookPath("passwd"); err != nil {
		t.Fatalf("passwd (package passwd) is needed: %v", err)
	}
	days := func(p *int64) string {
		if p == nil {
			return "-1"
		}
		return strconv.FormatInt(*p, 10)
	}
	for _, u := range users.Users {
		t.Run(u.Name, func(t *testing.T) {
			cmd := exec.Command("passwd", "-R", root, "-S", u.Name)
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("passwd -S %s: %v", u.Name, err)
			}
			f := strings.Fields(string(out))
			if len(f) < 2 || f[0] != u.Name {
				t.Fatalf("passwd -S printed %q", out)
			}
			if u.Password == nil {
				t.Fatalf("no password info collected; passwd -S says %q", out)
			}
			state := u.Password.State
			var class string
			switch {
			case state == inventory.PasswordEmpty:
				class = "NP"
			case state == inventory.PasswordLocked:
				class = "L"
			case state == inventory.PasswordNone:
				// passwd -S says L for "*" and P for other non-hashes.
				class = "P"
				if strings.HasPrefix(fieldOf(t, root, u.Name), "*") {
					class = "L"
				}
			case strings.HasPrefix(state, inventory.PasswordHashedPrefix):
				class = "P"
			}
			if class != f[1] {
				t.Errorf("state %s, passwd -S says %s", state, f[1])
			}
			if len(f) < 7 {
				if u.Password.LastChange != nil || u.Password.MaxDays != nil {
					t.Errorf("aging collected, passwd -S shows none: %q", out)
				}
				return
			}
			last := "never"
			if p := u.Password.LastChange; p != nil {
				last = time.Unix(*p*86400, 0).UTC().Format("2006-01-02")
			}
			got := strings.Join([]string{last, days(u.Password.MinDays), days(u.Password.MaxDays), days(u.Password.WarnDays), days(u.Password.Inactive)}, " ")
			if want := strings.Join(f[2:7], " "); got != want {
				t.Errorf("aging %s, passwd -S says %s", got, want)
			}
		})
	}
}

// fieldOf returns the shadow password field of name.
func fieldOf(t *testing.T, root, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "etc/shadow"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Split(line, ":"); len(f) > 1 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

// TestMountOptionsFixture runs the disks collector on a mountinfo where a
// tmpfs is mounted over an ext4 /tmp, and checks every options list
// against findmnt reading the same file.
func TestMountOptionsFixture(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"proc/self", "sys/block"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.ReadFile(filepath.Join("testdata", "mount-options", "mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	infoPath := filepath.Join(root, "proc/self/mountinfo")
	if err := os.WriteFile(infoPath, info, 0o644); err != nil {
		t.Fatal(err)
	}
	usage := fsUsage{Total: 10 << 30, Free: 5 << 30}
	k := fakeKernel{Arch: "x86_64", Statfs: map[string]fsUsage{"/": usage, "/tmp": usage, "/home": usage, "/boot": usage, "/var": usage, "/var/log": usage, "/var/tmp": usage}}
	v, err := collectDisks(context.Background(), Config{Root: root, kernel: k}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	disks := v.(inventory.Disks)

	// findmnt -F reads a mountinfo file; its OPTIONS column is the merge
	// the collector mirrors. Keyed by mount id.
	cmd := exec.Command("findmnt", "-F", infoPath, "-l", "-n", "-o", "ID,TARGET,OPTIONS")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("findmnt (util-linux) -F: %v", err)
	}
	findmnt := make(map[string]string) // "id target" -> options
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			findmnt[f[0]+" "+f[1]] = f[2]
		}
	}
	// The visible mount per target is the one with the highest id here
	// (the over-mount 31 on /tmp); ids as written in the fixture.
	visibleID := map[string]string{"/": "22", "/tmp": "31", "/home": "32", "/boot": "33", "/var/tmp": "34", "/var": "35", "/var/log": "36", "/dev/shm": "25"}

	gotVol := make(map[string]string)
	for _, v := range disks.Volumes {
		gotVol[v.Mount] = strings.Join(v.Options, ",")
	}
	for _, mp := range []string{"/", "/home", "/boot", "/var", "/var/log"} {
		if want := findmnt[visibleID[mp]+" "+mp]; gotVol[mp] != want {
			t.Errorf("volume %s options %q, findmnt %q", mp, gotVol[mp], want)
		}
	}
	if _, ok := gotVol["/tmp"]; ok {
		t.Errorf("the ext4 /tmp under the tmpfs over-mount is listed as a volume")
	}
	if len(disks.Volumes) != 5 {
		t.Errorf("%d volumes, want 5 (/, /boot, /home, /var, /var/log): %+v", len(disks.Volumes), disks.Volumes)
	}

	var gotMounts []string
	for _, m := range disks.Mounts {
		gotMounts = append(gotMounts, m.Mount)
		if want := findmnt[visibleID[m.Mount]+" "+m.Mount]; strings.Join(m.Options, ",") != want {
			t.Errorf("mount %s options %q, findmnt %q", m.Mount, strings.Join(m.Options, ","), want)
		}
	}
	if want := []string{"/dev/shm", "/home", "/tmp", "/var", "/var/log", "/var/tmp"}; !slices.Equal(gotMounts, want) {
		t.Errorf("mounts %v, want %v", gotMounts, want)
	}
	for _, m := range disks.Mounts {
		if m.Mount == "/tmp" && (m.FS != "tmpfs" || !slices.Contains(m.Options, "nodev")) {
			t.Errorf("/tmp is %s %v, want the tmpfs over-mount with nodev", m.FS, m.Options)
		}
		if m.Mount == "/boot" {
			t.Errorf("/boot is not a checked mount point")
		}
	}
}

// TestMountOptionsMerge states the merge on its own: per-mount options
// first, the super block's rw/ro dropped, duplicates once.
func TestMountOptionsMerge(t *testing.T) {
	m := mount{vfsOptions: "ro,nosuid,relatime", superOptions: "rw,nosuid,errors=continue"}
	if got := strings.Join(m.options(), ","); got != "ro,nosuid,relatime,errors=continue" {
		t.Errorf("got %s", got)
	}
	m = mount{vfsOptions: "rw", superOptions: "rw,user=svc,password=Invented1,Secret=x"}
	if got := strings.Join(m.options(), ","); got != "rw,user=svc,password=<hidden>,Secret=<hidden>" {
		t.Errorf("credentials: got %s", got)
	}
	if got := (mount{}).options(); got != nil {
		t.Errorf("no options: got %v", got)
	}
}

func TestResolveInRoot(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"srv/home/ann", "usr"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"home": "/srv/home", // absolute: inside the root, not this machine's /srv
		"rel":  "usr/../srv",
		"a":    "b",
		"b":    "a",
		"up":   "../../../../srv",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ in, want string }{
		{"/home/ann", filepath.Join(root, "srv/home/ann")},
		{"/rel/home/ann", filepath.Join(root, "srv/home/ann")},
		{"/up/home", filepath.Join(root, "srv/home")},
		{"/a/x", "error"},
		{"/missing", "error"},
	}
	for _, c := range cases {
		got, err := resolveInRoot(root, c.in)
		if err != nil {
			got = "error"
		}
		if got != c.want {
			t.Errorf("%s: got %s (%v), want %s", c.in, got, err, c.want)
		}
	}
}

// TestLiveJoinFacts compares the new fields on this machine with getent,
// stat, findmnt and sysctl.
func TestLiveJoinFacts(t *testing.T) {
	t.Run("users and groups match getent", func(t *testing.T) {
		users := liveCollect[inventory.Users](t, collectUsers)
		passwd := getentLines(t, "passwd")
		for _, u := range users.Users {
			f := passwd[u.Name]
			if len(f) != 7 {
				t.Errorf("%s: getent passwd has %q", u.Name, f)
				continue
			}
			if u.GID != f[3] || u.Home != f[5] || u.Shell != f[6] {
				t.Errorf("%s: gid %s home %s shell %s; getent: %s %s %s", u.Name, u.GID, u.Home, u.Shell, f[3], f[5], f[6])
			}
			if u.HomeExists == nil {
				t.Errorf("%s: home not looked at", u.Name)
				continue
			}
			st, err := exec.Command("stat", "-L", "-c", "%F %u %g %a", u.Home).Output()
			want := "missing"
			if err == nil && strings.HasPrefix(string(st), "directory ") {
				f := strings.Fields(string(st))
				mode, _ := strconv.ParseUint(f[3], 8, 32)
				want = fmt.Sprintf("%s %s %04o", f[1], f[2], mode)
			}
			got := "missing"
			if *u.HomeExists {
				got = u.HomeUID + " " + u.HomeGID + " " + u.HomeMode
			}
			if got != want {
				t.Errorf("%s home %s: %s, stat says %s", u.Name, u.Home, got, want)
			}
			if u.Password == nil {
				t.Errorf("%s: no password info though the test runs as root", u.Name)
			}
		}
		groups := getentLines(t, "group")
		if len(users.Groups) != len(groups) {
			t.Errorf("%d groups, getent group lists %d", len(users.Groups), len(groups))
		}
		for _, g := range users.Groups {
			f := groups[g.Name]
			if len(f) != 4 || f[2] != g.GID || strings.Join(g.Members, ",") != f[3] {
				t.Errorf("group %+v, getent group: %q", g, f)
			}
		}
		for _, u := range users.Users {
			if want := groupByGID(t, u.GID); u.Group != want {
				t.Errorf("%s: group %q, getent group by gid %s: %q", u.Name, u.Group, u.GID, want)
			}
		}
	})
	t.Run("mount options match findmnt", func(t *testing.T) {
		disks := liveCollect[inventory.Disks](t, collectDisks)
		out := command(t, "findmnt", "-l", "-n", "-o", "TARGET,OPTIONS")
		// findmnt lists every mount; the visible one at a target is the
		// last line for it.
		opts := make(map[string]string)
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				opts[f[0]] = f[1]
			}
		}
		for _, v := range disks.Volumes {
			if got := strings.Join(v.Options, ","); got != opts[v.Mount] {
				t.Errorf("volume %s: %s, findmnt %s", v.Mount, got, opts[v.Mount])
			}
		}
		for _, m := range disks.Mounts {
			if got := strings.Join(m.Options, ","); got != opts[m.Mount] {
				t.Errorf("mount %s: %s, findmnt %s", m.Mount, got, opts[m.Mount])
			}
		}
		for _, mp := range inventory.MountPointsChecked {
			listed := slices.ContainsFunc(disks.Mounts, func(m inventory.Mount) bool { return m.Mount == mp })
			if _, mounted := opts[mp]; listed != mounted {
				t.Errorf("%s: listed %v, findmnt lists it %v", mp, listed, mounted)
			}
		}
		if len(disks.Volumes) == 0 {
			t.Error("no volumes on this machine")
		}
	})
	t.Run("sysctl matches sysctl -n", func(t *testing.T) {
		o := liveCollect[inventory.OS](t, collectOS)
		if len(o.Sysctl) == 0 {
			t.Fatal("no sysctl values collected")
		}
		for _, key := range sysctlKeys {
			out, err := exec.Command("sysctl", "-n", key).Output()
			got, ok := o.Sysctl[key]
			if err != nil {
				if ok {
					t.Errorf("%s = %d collected, sysctl -n fails: %v", key, got, err)
				}
				continue
			}
			if want := strings.TrimSpace(string(out)); !ok || strconv.FormatInt(got, 10) != want {
				t.Errorf("%s = %d (collected %v), sysctl -n says %s", key, got, ok, want)
			}
		}
	})
}

// getentLines returns `getent -s files db` by name, split on ":".
func getentLines(t *testing.T, db string) map[string][]string {
	t.Helper()
	out := command(t, "getent", "-s", "files", db)
	m := make(map[string][]string)
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, ":")
		if _, dup := m[f[0]]; !dup {
			m[f[0]] = f
		}
	}
	return m
}

// groupByGID returns the name of the group `getent group gid` finds, ""
// when there is none (getent exits 2).
func groupByGID(t *testing.T, gid string) string {
	t.Helper()
	out, err := exec.Command("getent", "-s", "files", "group", gid).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		return ""
	}
	if err != nil {
		t.Fatalf("getent group %s: %v", gid, err)
	}
	name, _, _ := strings.Cut(string(out), ":")
	return name
}
