package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// wideTree adds, under root, dirs directories each holding a file and a
// subdirectory with a file.
func wideTree(t *testing.T, root string, dirs int) {
	t.Helper()
	for i := range dirs {
		d := filepath.Join(root, "wide", fmt.Sprintf("d%03d", i), "sub")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{filepath.Join(d, "f"), filepath.Join(filepath.Dir(d), "f")} {
			if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Subdirectories opened while their parent is listed and those opened
// later by path (past the walk's budget of open directories, or with no
// budget at all) give the same entries and counts, and the walk leaves
// no descriptor open.
func TestWalkHeldDirsAgree(t *testing.T) {
	root := scanTree(t)
	wideTree(t, root, 40)
	defer func(n int64) { maxHeldDirs = n }(maxHeldDirs)
	before := openFDs(t)
	var runs []string
	for _, budget := range []int64{256, 3, 0} {
		maxHeldDirs = budget
		got, st := collectWalk(t, root, policy.WalkSpec{Roots: []string{"/"}, Exclude: []string{"/data/skip"}})
		runs = append(runs, fmt.Sprintf("%s\n%+v", strings.Join(got, "\n"), st))
		if st.Entries < 150 || st.Pruned != 1 {
			t.Errorf("budget %d: stats %+v", budget, st)
		}
	}
	for i, budget := range []int64{3, 0} {
		if runs[i+1] != runs[0] {
			t.Errorf("budget %d differs from 256:\n%s\nwant:\n%s", budget, runs[i+1], runs[0])
		}
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the walks, %d before", after, before)
	}
}

// A walk stopped while directories wait, opened, on its stack closes
// them.
func TestWalkStoppedClosesHeldDirs(t *testing.T) {
	root := t.TempDir()
	wideTree(t, root, 60)
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{}).(*liveEnv)
	before := openFDs(t)
	stop := errors.New("stop")
	n := 0
	_, err := env.Walk(context.Background(), policy.WalkSpec{Roots: []string{"/wide"}}, func(e *policy.WalkEntry) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err %v, want the visit's error", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the stopped walk, %d before", after, before)
	}
}

// On the live system a mount point of an excluded file-system type is
// neither visited nor opened; with same_filesystem, another file system's
// mount point is visited but not entered. The mount point is judged
// before anything opens it, which the early opening of subdirectories
// must not change.
func TestWalkLiveMountPoints(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m")
	for _, d := range []string{m, filepath.Join(dir, "plain")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tmpfs", m, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("this test needs root and mount(2) to mount a tmpfs: %v", err)
	}
	defer unmount(m)
	if err := os.WriteFile(filepath.Join(m, "inside"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := NewEnv(context.Background(), Config{}, inventory.Document{}).(*liveEnv)
	walk := func(spec policy.WalkSpec) ([]string, policy.WalkStats) {
		var got []string
		st, err := env.Walk(context.Background(), spec, func(e *policy.WalkEntry) error {
			got = append(got, strings.TrimPrefix(e.Path(), dir))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		return got, st
	}
	for _, c := range []struct {
		name   string
		spec   policy.WalkSpec
		want   string
		pruned int64
	}{
		{"tmpfs excluded", policy.WalkSpec{Roots: []string{dir}, ExcludeFSTypes: []string{"tmpfs"}}, ",/plain", 1},
		{"nothing excluded", policy.WalkSpec{Roots: []string{dir}, ExcludeFSTypes: []string{"nfs"}}, ",/m,/m/inside,/plain", 0},
		{"same file system", policy.WalkSpec{Roots: []string{dir}, SameFilesystem: true}, ",/m,/plain", 1},
	} {
		got, st := walk(c.spec)
		if strings.Join(got, ",") != c.want || st.Pruned != c.pruned {
			t.Errorf("%s: visited %q, stats %+v; want %q and %d pruned", c.name, strings.Join(got, ","), st, c.want, c.pruned)
		}
	}
}
