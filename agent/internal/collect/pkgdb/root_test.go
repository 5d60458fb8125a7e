package pkgdb

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestResolveIn(t *testing.T) {
	tr := newTree(t).
		dir("usr/lib/sysimage/rpm").
		link("var/lib/rpm", "/usr/lib/sysimage/rpm").          // absolute: starts again at root
		link("var/lib/rel", "../../usr/lib/sysimage/rpm").     // relative
		link("var/lib/escape", "../../../../../../../../etc"). // ".." stops at root
		link("loop/a", "b").link("loop/b", "a")
	for _, tc := range []struct{ name, want string }{
		{"/var/lib/rpm", "usr/lib/sysimage/rpm"},
		{"/var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"},
		{"/var/lib/rel/Packages", "usr/lib/sysimage/rpm/Packages"},
		{"/var/lib/escape/passwd", "etc/passwd"},
		{"/var/lib/missing/x", "var/lib/missing/x"},
		{"var/./lib/../lib/rpm", "usr/lib/sysimage/rpm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveIn(tr.root, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(tr.root, tc.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	t.Run("loop", func(t *testing.T) {
		if _, err := resolveIn(tr.root, "/loop/a/x"); !errors.Is(err, errSymlinkLoop) {
			t.Errorf("err = %v, want a loop error", err)
		}
	})
	t.Run("live root", func(t *testing.T) {
		if got, _ := resolveIn("/", "/var/lib/../lib/rpm"); got != "/var/lib/rpm" {
			t.Errorf("got %s", got)
		}
	})
}

// TestRPMLocations puts databases where distributions keep them and checks
// RPM finds the one rpm itself would use.
func TestRPMLocations(t *testing.T) {
	const (
		sqlite = "rpm/sqlite-small/rpmdb.sqlite" // four packages
		bdb    = "rpm/bdb/Packages"              // five
		ndb    = "rpm/ndb/Packages.db"           // five
	)
	for _, tc := range []struct {
		name  string
		build func(tr tree)
		want  int
	}{
		{"rhel 7 bdb in /var/lib/rpm", func(tr tree) { tr.fixture("var/lib/rpm/Packages", bdb) }, 4},
		{"fedora sysimage behind an absolute link", func(tr tree) {
			tr.fixture("usr/lib/sysimage/rpm/rpmdb.sqlite", sqlite).link("var/lib/rpm", "/usr/lib/sysimage/rpm")
		}, 3},
		{"suse ndb in sysimage", func(tr tree) { tr.fixture("usr/lib/sysimage/rpm/Packages.db", ndb) }, 4},
		{"%_dbpath in /etc/rpm wins over /var/lib/rpm", func(tr tree) {
			tr.file("etc/rpm/macros.dbpath", []byte("# moved\n%_dbpath %{_var}/lib/rpm-alt\n")).
				fixture("var/lib/rpm-alt/Packages.db", ndb).
				fixture("var/lib/rpm/rpmdb.sqlite", sqlite)
		}, 4},
		{"%_db_backend picks among several files", func(tr tree) {
			tr.file("usr/lib/rpm/macros", []byte("%_dbpath\t\t%{_var}/lib/rpm\n%_db_backend\t      bdb\n")).
				fixture("var/lib/rpm/rpmdb.sqlite", sqlite).
				fixture("var/lib/rpm/Packages", bdb)
		}, 4},
		{"unexpandable %_dbpath falls back", func(tr tree) {
			tr.file("etc/rpm/macros", []byte("%_dbpath %{_somewhere}/rpm\n")).
				fixture("var/lib/rpm/rpmdb.sqlite", sqlite)
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTree(t)
			tc.build(tr)
			got, err := RPM(context.Background(), tr.root)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("got %d packages, want %d:\n%s", len(got), tc.want, listing(got))
			}
		})
	}
	t.Run("no database", func(t *testing.T) {
		root := newTree(t).dir("var/lib/rpm").root
		if _, err := RPM(context.Background(), root); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("corrupt database is an error, not absence", func(t *testing.T) {
		root := newTree(t).file("var/lib/rpm/rpmdb.sqlite", []byte("SQLite format 3\x00 and then nothing")).root
		_, err := RPM(context.Background(), root)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want a corruption error", err)
		}
	})
}
