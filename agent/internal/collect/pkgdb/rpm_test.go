package pkgdb

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// rpmQueryFormat is what the tests ask rpm to print; parseRPMListing reads
// it back.
const rpmQueryFormat = `%{NAME}\t%{EVR}\t%{ARCH}\t%{VENDOR}\t%{INSTALLTIME}\n`

// parseRPMListing turns rpm's output into what the reader must return:
// gpg-pubkey entries dropped, "(none)" meaning absent, sorted.
func parseRPMListing(t *testing.T, out []byte) []inventory.Package {
	t.Helper()
	var pkgs []inventory.Package
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("rpm printed %q", line)
		}
		if f[0] == "gpg-pubkey" {
			continue
		}
		for i := range f {
			if f[i] == "(none)" {
				f[i] = ""
			}
		}
		p := inventory.Package{Name: f[0], Version: f[1], Arch: f[2], Source: inventory.SourceRPM, Publisher: f[3]}
		if f[4] != "" {
			sec, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				t.Fatalf("install time %q: %v", f[4], err)
			}
			p.InstallTime = time.Unix(sec, 0).UTC()
		}
		pkgs = append(pkgs, p)
	}
	SortPackages(pkgs)
	return pkgs
}

// rpmList runs the real rpm on a database directory. rpm writes a lock
// file beside the database, so committed fixtures are copied first.
func rpmList(t *testing.T, dbpath string, args ...string) []inventory.Package {
	t.Helper()
	bin := requireTool(t, "rpm", "rpm")
	cmd := exec.Command(bin, append([]string{"--dbpath", dbpath, "-qa", "--qf", rpmQueryFormat}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm -qa --dbpath %s: %v\n%s", dbpath, err, stderr.Bytes())
	}
	return parseRPMListing(t, out)
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestRPMCommittedDatabases reads the databases that Debian's rpm cannot
// write (see testdata/rpm/gen.sh) and compares them with what rpm listed
// when they were made; Berkeley DB files are also listed again now with
// rpm's read-only bdb backend.
func TestRPMCommittedDatabases(t *testing.T) {
	for _, tc := range []struct {
		dir      string
		rpmAgain []string // rpm arguments to list it again now, if it can
	}{
		{dir: "ndb"},
		{dir: "bdb", rpmAgain: []string{"--define", "_db_backend bdb_ro"}},
		{dir: "bdb-512", rpmAgain: []string{"--define", "_db_backend bdb_ro"}},
		{dir: "sqlite-small"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "rpm", tc.dir)
			golden, err := os.ReadFile(filepath.Join(dir, "rpm-qa.txt"))
			if err != nil {
				t.Fatal(err)
			}
			want := parseRPMListing(t, golden)
			if len(want) < 3 {
				t.Fatalf("golden listing has %d packages", len(want))
			}
			got, err := RPMDir(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			diffPackages(t, got, want)
			if tc.rpmAgain != nil {
				diffPackages(t, got, rpmList(t, copyDir(t, dir), tc.rpmAgain...))
			}
		})
	}
}

var built struct {
	once sync.Once
	dir  string
	rpms []string
	err  error
}

// builtRPMs builds testdata/rpm/fixture.spec with the real rpmbuild once
// per test run (a fraction of a second).
func builtRPMs(t testing.TB) []string {
	t.Helper()
	rpmbuild := requireTool(t, "rpmbuild", "rpm")
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "steward-rpmbuild-")
		if built.err != nil {
			return
		}
		spec, _ := filepath.Abs(filepath.Join("testdata", "rpm", "fixture.spec"))
		cmd := exec.Command(rpmbuild, "--quiet", "--define", "_topdir "+built.dir,
			"--define", "_binary_payload w0.ufdio", "-bb", spec)
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = &buildError{err, out}
			return
		}
		built.rpms, built.err = filepath.Glob(filepath.Join(built.dir, "RPMS", "*", "*.rpm"))
	})
	if built.err != nil {
		t.Fatalf("rpmbuild %s: %v", "testdata/rpm/fixture.spec", built.err)
	}
	if len(built.rpms) != 4 {
		t.Fatalf("rpmbuild made %d packages, want 4: %v", len(built.rpms), built.rpms)
	}
	return built.rpms
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

func cleanupBuiltRPMs() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// installRPMs records packages in a fresh database with the real rpm
// (only the database: --justdb) and imports the fixture signing key,
// which rpm stores as a gpg-pubkey pseudo-package.
func installRPMs(t testing.TB, dbpath string, rpms ...string) {
	t.Helper()
	bin := requireTool(t, "rpm", "rpm")
	args := append([]string{"--dbpath", dbpath, "--justdb", "--nodeps", "--noscripts", "-i"}, rpms...)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	key, _ := filepath.Abs(filepath.Join("testdata", "rpm", "pubkey.asc"))
	keys := requireTool(t, "rpmkeys", "rpm")
	if out, err := exec.Command(keys, "--dbpath", dbpath, "--import", key).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v\n%s", err, out)
	}
}

// TestRPMSQLiteMatchesRPM builds packages, installs them with rpm into an
// SQLite database, and compares the reader's list with rpm's own.
func TestRPMSQLiteMatchesRPM(t *testing.T) {
	dbpath := t.TempDir()
	installRPMs(t, dbpath, builtRPMs(t)...)
	if _, err := os.Stat(filepath.Join(dbpath, "rpmdb.sqlite")); err != nil {
		t.Fatalf("rpm did not write an sqlite database: %v", err)
	}
	want := rpmList(t, dbpath)
	if len(want) != 4 {
		t.Fatalf("rpm lists %d packages, want 4", len(want))
	}
	got, err := RPMDir(context.Background(), dbpath)
	if err != nil {
		t.Fatal(err)
	}
	diffPackages(t, got, want)
}

// TestRPMSQLiteWAL removes a package in a transaction that stays in the
// write-ahead log, as after a crash or while dnf runs: the reader must
// see the database as rpm does, not as the main file alone says.
func TestRPMSQLiteWAL(t *testing.T) {
	sqlite3 := requireTool(t, "sqlite3", "sqlite3")
	dbpath := t.TempDir()
	installRPMs(t, dbpath, builtRPMs(t)...)
	script := ".dbconfig no_ckpt_on_close on\n" +
		"DELETE FROM Packages WHERE hnum IN (SELECT hnum FROM Name WHERE key = 'fixture-epoch');\n"
	cmd := exec.Command(sqlite3, filepath.Join(dbpath, "rpmdb.sqlite"))
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(dbpath, "rpmdb.sqlite-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("the delete is not in the write-ahead log (%v)", err)
	}
	got, err := RPMDir(context.Background(), dbpath)
	if err != nil {
		t.Fatal(err)
	}
	want := rpmList(t, dbpath)
	if len(want) != 3 {
		t.Fatalf("rpm lists %d packages after the delete, want 3", len(want))
	}
	diffPackages(t, got, want)

	// Without the log the main file still has the package: proof that the
	// log was what made the difference.
	f, err := os.Open(filepath.Join(dbpath, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	db, err := openSQLite(f, fi.Size(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := scanRPMSQLite(db, func([]byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 5 { // four packages and the key
		t.Errorf("main file alone has %d rows, want 5", n)
	}
}
