package pkgdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// benchPackages and benchFiles shape the benchmark database like a real
// one: 500 packages whose headers, with 80 file names each and a long
// description, span several SQLite pages apiece, as most do on a Fedora
// or RHEL system (about 30 MB of headers for 1,500 packages there).
const (
	benchPackages = 500
	benchFiles    = 80
)

// benchSpec writes one spec with benchPackages subpackages, so that a
// single rpmbuild run makes them all.
func benchSpec(dir string) string {
	var b strings.Builder
	b.WriteString("%global debug_package %{nil}\nName: bench\nVersion: 1\nRelease: 1\nSummary: bench\nLicense: MIT\n")
	b.WriteString("%description\nbench\n")
	desc := strings.Repeat("A realistic package description line that says what it does. ", 20)
	for i := range benchPackages {
		fmt.Fprintf(&b, "%%package -n bench-pkg-%03d\nSummary: package %d\nVersion: %d.%d.%d\nRelease: %d.fc40\nVendor: Bench Vendor\nBuildArch: noarch\n",
			i, i, 1+i%7, i%13, i, 1+i%3)
		fmt.Fprintf(&b, "%%description -n bench-pkg-%03d\n%s\n", i, desc)
	}
	fmt.Fprintf(&b, "%%install\nfor p in $(seq -w 0 %d); do d=%%{buildroot}/usr/share/bench-pkg-$p/some/deeper/directory/structure\n"+
		"mkdir -p $d; for f in $(seq 1 %d); do : > $d/a-data-file-with-a-typical-length-name-$f.dat; done; done\n",
		benchPackages-1, benchFiles)
	b.WriteString("%files\n")
	for i := range benchPackages {
		fmt.Fprintf(&b, "%%files -n bench-pkg-%03d\n/usr/share/bench-pkg-%03d\n", i, i)
	}
	path := filepath.Join(dir, "bench.spec")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
	return path
}

var benchDB struct {
	once sync.Once
	dir  string
}

// benchDatabase builds the benchmark database once per test process
// (rpmbuild and rpm -i take about 40 seconds); it lives in the build
// directory, removed with the other built packages by TestMain.
func benchDatabase(b *testing.B) string {
	rpmbuild := requireTool(b, "rpmbuild", "rpm")
	benchDB.once.Do(func() {
		work, err := os.MkdirTemp("", "steward-rpmbench-")
		if err != nil {
			b.Fatal(err)
		}
		extraCleanup = append(extraCleanup, work)
		spec := benchSpec(work)
		cmd := exec.Command(rpmbuild, "--quiet", "--define", "_topdir "+work, "--define", "_binary_payload w0.ufdio", "-bb", spec)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("rpmbuild: %v\n%s", err, out)
		}
		rpms, _ := filepath.Glob(filepath.Join(work, "RPMS", "*", "bench-pkg-*.rpm"))
		if len(rpms) != benchPackages {
			b.Fatalf("rpmbuild made %d packages", len(rpms))
		}
		dbpath := filepath.Join(work, "db")
		installRPMs(b, dbpath, rpms...)
		benchDB.dir = dbpath
	})
	if benchDB.dir == "" {
		b.Fatal("benchmark database not built")
	}
	return benchDB.dir
}

// BenchmarkRPMSQLite500 reads a 500-package database that the real rpm
// wrote.
func BenchmarkRPMSQLite500(b *testing.B) {
	dbpath := benchDatabase(b)
	fi, err := os.Stat(filepath.Join(dbpath, "rpmdb.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		pkgs, err := RPMDir(context.Background(), dbpath)
		if err != nil {
			b.Fatal(err)
		}
		if len(pkgs) != benchPackages {
			b.Fatalf("read %d packages", len(pkgs))
		}
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "db-MiB")
}
