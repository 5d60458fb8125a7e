package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// scanTree builds, under a fresh root, a tree with one of each thing the
// find leaf looks for, and returns the root. Paths below are as the
// checked system (the root) sees them.
func scanTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mk := func(rel string, mode fs.FileMode, dir bool) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if dir {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Chmod after creation: the umask would clear o+w.
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\nsvc:x:1002:1002::/srv/svc:/bin/false\n")
	write("etc/group", "root:x:0:\nadm:x:4:alice\nalice:x:1000:\nbob:x:1001:\n")
	write("etc/login.defs", "# defaults\nUID_MIN 500\nUID_MIN\t1000\n")
	mk("data", 0o755, true)
	mk("data/ww.txt", 0o666, false) // world-writable file
	mk("data/ok.txt", 0o644, false) // fine
	mk("data/wwdir", 0o777, true)   // world-writable dir without sticky
	mk("data/tmp", 0o777|fs.ModeSticky, true)
	mk("data/tmp/inner.txt", 0o646, false) // world-writable, depth 3
	mk("data/suid", 0o755|fs.ModeSetuid, false)
	mk("data/sgid", 0o755|fs.ModeSetgid, false)
	mk("data/orphan", 0o644, false)
	if err := os.Lchown(filepath.Join(root, "data/orphan"), 4242, 4343); err != nil {
		t.Fatal(err)
	}
	mk("data/skip", 0o755, true)
	mk("data/skip/ww-hidden", 0o666, false)
	// A symbolic link loop and a link to a world-writable file: neither
	// may be followed.
	if err := os.Symlink("loop-b", filepath.Join(root, "data/loop-a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop-a", filepath.Join(root, "data/loop-b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/data", filepath.Join(root, "data/up")); err != nil {
		t.Fatal(err)
	}
	mk("home/alice", 0o750, true)
	mk("home/alice/.netrc", 0o600, false)
	mk("home/alice/.bashrc", 0o644, false)
	if err := os.Lchown(filepath.Join(root, "home/alice"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(root, "home/alice/.bashrc"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	mk("home/bob", 0o755, true) // bob's home is root's: .netrc owned by root
	mk("home/bob/.netrc", 0o644, false)
	return root
}

// collectWalk walks spec under root and returns the entries' paths with
// their modes, sorted.
func collectWalk(t *testing.T, root string, spec policy.WalkSpec) ([]string, policy.WalkStats) {
	t.Helper()
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{}).(*liveEnv)
	var got []string
	st, err := env.Walk(context.Background(), spec, func(e *policy.WalkEntry) error {
		got = append(got, fmt.Sprintf("%s %d %04o %s:%s", e.Path(), e.Depth, policy.UnixPerm(e.Mode), e.Owner, e.Group))
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	sort.Strings(got)
	return got, st
}

func TestWalkTreeUnderRoot(t *testing.T) {
	root := scanTree(t)
	got, st := collectWalk(t, root, policy.WalkSpec{Roots: []string{"/data"}, Exclude: []string{"/data/skip"}})
	want := []string{
		"/data 0 0755 root:root",
		"/data/loop-a 1 0777 root:root",
		"/data/loop-b 1 0777 root:root",
		"/data/ok.txt 1 0644 root:root",
		"/data/orphan 1 0644 :",
		"/data/sgid 1 2755 root:root",
		"/data/suid 1 4755 root:root",
		"/data/tmp 1 1777 root:root",
		"/data/tmp/inner.txt 2 0646 root:root",
		"/data/up 1 0777 root:root",
		"/data/ww.txt 1 0666 root:root",
		"/data/wwdir 1 0777 root:root",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.Entries != int64(len(want)) || st.Pruned != 1 || st.Unreadable != 0 || st.Vanished != 0 || st.Loops != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWalkDepthAndMissingRoot(t *testing.T) {
	root := scanTree(t)
	got, st := collectWalk(t, root, policy.WalkSpec{Roots: []string{"/data", "/nope"}, MaxDepth: maxDepth(1)})
	for _, g := range got {
		if strings.HasPrefix(g, "/data/tmp/") || strings.HasPrefix(g, "/data/skip/") {
			t.Errorf("max_depth 1 reached %s", g)
		}
	}
	if st.Missing != 1 || len(got) != 12 {
		t.Errorf("%d entries (want 12: /data and its 11 children), stats %+v", len(got), st)
	}
}

func TestWalkUnreadableAndVanished(t *testing.T) {
	root := scanTree(t)
	defer func() { walkOpenHook = nil }()
	// Root can open a chmod 000 directory, so the fault is injected: one
	// directory refuses to open, another is removed between its listing
	// and its opening.
	walkOpenHook = func(dir string) error {
		switch dir {
		case "/data/skip":
			return fmt.Errorf("open: %w", os.ErrPermission)
		case "/data/wwdir":
			if err := os.Remove(filepath.Join(root, "data/wwdir")); err != nil {
				t.Errorf("remove: %v", err)
			}
		}
		return nil
	}
	got, st := collectWalk(t, root, policy.WalkSpec{Roots: []string{"/data"}})
	if st.Unreadable != 1 || st.Vanished != 1 {
		t.Errorf("stats %+v, want 1 unreadable and 1 vanished", st)
	}
	for _, g := range got {
		if strings.Contains(g, "ww-hidden") {
			t.Errorf("listed %s inside the unreadable directory", g)
		}
	}
}

func TestWalkBindMountLoop(t *testing.T) {
	root := scanTree(t)
	// A directory that is its own ancestor, as a bind mount makes one.
	inner := filepath.Join(root, "data/tmp/again")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mountBind(filepath.Join(root, "data"), inner); err != nil {
		t.Fatalf("this test needs root and mount(2) to build a bind-mount loop: %v", err)
	}
	defer unmount(inner)
	_, st := collectWalk(t, root, policy.WalkSpec{Roots: []string{"/data"}})
	if st.Loops != 1 {
		t.Errorf("stats %+v, want 1 loop", st)
	}
	_, st = collectWalk(t, root, policy.WalkSpec{Roots: []string{"/data"}, SameFilesystem: true})
	// A bind mount of the same file system keeps its device: the loop is
	// still what stops it.
	if st.Loops != 1 {
		t.Errorf("same_filesystem stats %+v, want 1 loop", st)
	}
}

func TestWalkStopsWhenVisitFails(t *testing.T) {
	root := scanTree(t)
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{}).(*liveEnv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_, err := env.Walk(ctx, policy.WalkSpec{Roots: []string{"/"}}, func(e *policy.WalkEntry) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Errorf("err %v after %d entries, want context.Canceled after 3", err, n)
	}
	stop := errors.New("stop")
	_, err = env.Walk(context.Background(), policy.WalkSpec{Roots: []string{"/"}}, func(*policy.WalkEntry) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err %v, want the visit's error", err)
	}
}

func TestHomeDirsFromImage(t *testing.T) {
	root := scanTree(t)
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{}).(*liveEnv)
	homes, err := env.HomeDirs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(homes)
	// daemon (nologin) and svc (/bin/false) are not interactive; bob's
	// /bin/sh is; UID_MIN is the last of the two assignments.
	if want := "[{root 0 0 /root} {alice 1000 1000 /home/alice} {bob 1001 1001 /home/bob}]"; got != want {
		t.Errorf("homes %s, want %s", got, want)
	}
}

func TestReadMountTypes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mountinfo")
	// proc(5) mountinfo lines; the second mount on /mnt/x is on top.
	data := "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
		"23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n" +
		"24 22 0:22 / /mnt/my\\040disk rw - vfat /dev/sdb1 rw\n" +
		"25 22 0:23 / /mnt/x rw - tmpfs tmpfs rw\n" +
		"26 25 0:24 / /mnt/x rw - nfs4 srv:/x rw\n" +
		"garbage line\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got := readMountTypes(file)
	want := map[string]string{"/": "ext4", "/proc": "proc", "/mnt/my disk": "vfat", "/mnt/x": "nfs4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestLinksUnderRoot: an image's absolute link target is resolved inside
// the image, and Lstat sees the link itself.
func TestLinksUnderRoot(t *testing.T) {
	root := scanTree(t)
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{}).(*liveEnv)
	ctx := context.Background()
	if err := os.Symlink("/etc", filepath.Join(root, "etclink")); err != nil {
		t.Fatal(err)
	}
	// /etclink/passwd: the directory link is followed inside the root.
	st, err := env.Lstat(ctx, "/etclink/passwd")
	if err != nil || !st.Mode.IsRegular() || st.Group != "root" || st.GroupID != "0" {
		t.Errorf("Lstat /etclink/passwd = %+v, %v", st, err)
	}
	st, err = env.Lstat(ctx, "/data/up")
	if err != nil || st.Mode&fs.ModeSymlink == 0 {
		t.Errorf("Lstat /data/up = %+v, %v; want a symlink", st, err)
	}
	target, err := env.Readlink(ctx, "/data/up")
	if err != nil || target != "/data" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	if _, err := env.Readlink(ctx, "/data/none"); !errors.Is(err, policy.ErrNotFound) {
		t.Errorf("Readlink of a missing link: %v", err)
	}
	if _, err := env.Lstat(ctx, "/data/loop-a/x"); err == nil {
		t.Errorf("Lstat through a link loop succeeded")
	}
	st, err = env.Stat(ctx, "/data/orphan")
	if err != nil || st.Owner != "" || st.OwnerID != "4242" || st.Group != "" || st.GroupID != "4343" {
		t.Errorf("Stat /data/orphan = %+v, %v", st, err)
	}
	st, err = env.Stat(ctx, "/home/alice/.bashrc")
	if err != nil || st.Owner != "alice" || st.Group != "alice" {
		t.Errorf("Stat .bashrc = %+v, %v", st, err)
	}
}

// TestLinksLive: on the live machine Lstat and Readlink see the link
// itself, and Stat's group comes from this machine's /etc/group.
func TestLinksLive(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "l")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	env := NewEnv(context.Background(), Config{}, inventory.Document{}).(*liveEnv)
	ctx := context.Background()
	st, err := env.Lstat(ctx, link)
	if err != nil || st.Mode&fs.ModeSymlink == 0 || st.Owner != "root" || st.Group != "root" {
		t.Errorf("Lstat = %+v, %v", st, err)
	}
	if target, err := env.Readlink(ctx, link); err != nil || target != "/etc/passwd" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	// Debian 12 installs /etc/shadow as root:shadow 0640.
	st, err = env.Stat(ctx, "/etc/shadow")
	if err != nil || st.Group != "shadow" || st.GroupID != "42" || policy.UnixPerm(st.Mode) != 0o640 {
		t.Errorf("Stat /etc/shadow = %+v, %v", st, err)
	}
}

// maxDepth is a WalkSpec.MaxDepth.
func maxDepth(n int) *int { return &n }

// TestWalkExcludedAndDepthZeroRoots: a root equal to or under an excluded
// path is not scanned; max_depth 0 examines the roots only.
func TestWalkExcludedAndDepthZeroRoots(t *testing.T) {
	root := scanTree(t)
	got, st := collectWalk(t, root, policy.WalkSpec{Roots: []string{"/data/skip", "/data/tmp/inner.txt", "/home"}, Exclude: []string{"/data/skip", "/data/tmp"}})
	want := []string{"/home 0 0755 root:root", "/home/alice 1 0750 alice:alice", "/home/alice/.bashrc 2 0644 alice:alice",
		"/home/alice/.netrc 2 0600 root:root", "/home/bob 1 0755 root:root", "/home/bob/.netrc 2 0644 root:root"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || st.Pruned != 2 || st.Entries != 6 {
		t.Errorf("entries:\n%s\nwant:\n%s\nstats %+v (want 2 pruned roots)", strings.Join(got, "\n"), strings.Join(want, "\n"), st)
	}
	got, st = collectWalk(t, root, policy.WalkSpec{Roots: []string{"/data", "/home/alice", "/nope"}, MaxDepth: maxDepth(0)})
	want = []string{"/data 0 0755 root:root", "/home/alice 0 0750 alice:alice"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || st.Missing != 1 || st.Entries != 2 {
		t.Errorf("max_depth 0: entries:\n%s\nstats %+v", strings.Join(got, "\n"), st)
	}
}

// TestWalkWorkersAgree walks the cached Debian 12 image with one worker
// and with four: the entries, their depths, modes and owners, and the
// counts are the same, and the number of entries is what a plain
// filepath.WalkDir (which follows no link either) counts.
func TestWalkWorkersAgree(t *testing.T) {
	testimage.DebianRoot(t) // built once and cached; waits for another test building it
	if _, err := os.Stat(debootstrapImage + "/etc/debian_version"); err != nil {
		t.Fatalf("this test needs the cached Debian 12 image: %v", err)
	}
	defer func(f func() int) { walkWorkers = f }(walkWorkers)
	var runs [][]string
	var stats []policy.WalkStats
	for _, n := range []int{1, 4} {
		walkWorkers = func() int { return n }
		got, st := collectWalk(t, debootstrapImage, policy.WalkSpec{Roots: []string{"/"}})
		runs, stats = append(runs, got), append(stats, st)
	}
	if len(runs[0]) != len(runs[1]) || stats[0] != stats[1] {
		t.Fatalf("1 worker: %d entries %+v; 4 workers: %d entries %+v", len(runs[0]), stats[0], len(runs[1]), stats[1])
	}
	for i := range runs[0] {
		if runs[0][i] != runs[1][i] {
			t.Fatalf("entry %d: %q with 1 worker, %q with 4", i, runs[0][i], runs[1][i])
		}
	}
	var n int64
	if err := filepath.WalkDir(debootstrapImage, func(string, fs.DirEntry, error) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n < 5000 || stats[0].Entries != n || stats[0].Unreadable+stats[0].Vanished+stats[0].Loops+stats[0].Pruned+stats[0].Missing != 0 {
		t.Errorf("walker stats %+v; filepath.WalkDir counted %d entries", stats[0], n)
	}
}
