package pkgdb

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// extraCleanup lists directories that tests and benchmarks made once per
// process, removed after the last of them.
var extraCleanup []string

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupBuiltRPMs()
	for _, d := range extraCleanup {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// requireTool returns the path of a command the test needs, failing with
// the install command when it is missing.
func requireTool(t testing.TB, name, debPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to check the reader against the real tool: %v; install it with: apt-get install -y %s",
			name, err, debPackage)
	}
	return path
}

// diffPackages reports differences between two package lists by position.
func diffPackages(t *testing.T, got, want []inventory.Package) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d packages, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("package %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s\nwant:\n%s", listing(got), listing(want))
	}
}

func listing(pkgs []inventory.Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		b.WriteString(p.Name + " " + p.Version + " " + p.Arch + " " + p.Publisher + " " + p.InstallTime.String() + "\n")
	}
	return b.String()
}
