package collect

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

const rhelOSRelease = `NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
`

// TestOfflineRPMImage builds rpm-based roots: the real rpmbuild makes the
// fixture packages of the pkgdb tests, the real rpm records them in the
// root's database, and the agent must list exactly what rpm lists.
func TestOfflineRPMImage(t *testing.T) {
	rpms := buildFixtureRPMs(t)
	for _, tc := range []struct {
		name   string
		dbpath string // where rpm writes the database, inside the root
		link   string // /var/lib/rpm made a link to dbpath, as on Fedora
	}{
		{name: "rhel 9 /var/lib/rpm", dbpath: "/var/lib/rpm"},
		{name: "fedora sysimage behind an absolute link", dbpath: "/usr/lib/sysimage/rpm", link: "/usr/lib/sysimage/rpm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, filepath.Join(root, "usr/lib/os-release"), rhelOSRelease)
			dbpath := filepath.Join(root, tc.dbpath)
			if err := os.MkdirAll(dbpath, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.link != "" {
				if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(tc.link, filepath.Join(root, "var/lib/rpm")); err != nil {
					t.Fatal(err)
				}
			}
			rpmCmd(t, "rpm", append([]string{"--dbpath", dbpath, "--justdb", "--nodeps", "--noscripts", "-i"}, rpms...)...)
			want := rpmListing(t, dbpath)
			if len(want) != 4 {
				t.Fatalf("rpm lists %d packages, want 4", len(want))
			}

			doc := inventoryRoot(t, root)
			var sw inventory.Software
			section(t, doc, inventory.SectionSoftware, &sw)
			var got []string
			for _, p := range sw.Packages {
				got = append(got, strings.Join([]string{p.Name, p.Version, p.Arch, p.Publisher, p.Source}, "|"))
				if p.InstallTime.IsZero() {
					t.Errorf("%s has no install time", p.Name)
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("software differs from rpm -qa:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			checkOfflineCommon(t, doc, parseOSRelease([]byte(rhelOSRelease)))
		})
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rpmCmd(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to make rpm databases: %v; install it with: apt-get install -y rpm", name, err)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return out
}

// rpmListing is rpm -qa as name|EVR|arch|vendor|source lines in the
// inventory's order, without the gpg-pubkey pseudo-packages.
func rpmListing(t *testing.T, dbpath string) []string {
	t.Helper()
	out := rpmCmd(t, "rpm", "--dbpath", dbpath, "-qa", "--qf", `%{NAME}|%{EVR}|%{ARCH}|%{VENDOR}|rpm\n`)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(l, "gpg-pubkey|") {
			lines = append(lines, strings.ReplaceAll(l, "(none)", ""))
		}
	}
	// Names differ, so the inventory's order is by name alone.
	sort.Slice(lines, func(i, j int) bool {
		return strings.SplitN(lines[i], "|", 2)[0] < strings.SplitN(lines[j], "|", 2)[0]
	})
	return lines
}

// buildFixtureRPMs builds pkgdb's fixture spec with the real rpmbuild.
func buildFixtureRPMs(t *testing.T) []string {
	t.Helper()
	top := t.TempDir()
	spec, err := filepath.Abs("pkgdb/testdata/rpm/fixture.spec")
	if err != nil {
		t.Fatal(err)
	}
	rpmCmd(t, "rpmbuild", "--quiet", "--define", "_topdir "+top, "--define", "_binary_payload w0.ufdio", "-bb", spec)
	rpms, err := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if err != nil || len(rpms) != 4 {
		t.Fatalf("rpmbuild made %v (%v), want 4 packages", rpms, err)
	}
	return rpms
}
