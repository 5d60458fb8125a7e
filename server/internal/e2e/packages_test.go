package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// probePackage is the package this test installs on the machine. Its name
// cannot clash with a real Debian package.
const probePackage = "steward-e2e-probe"

// dpkgTestLock is the lock file agent/internal/collect and
// server/internal/e2e share. It lives in /run/lock (world-writable and
// sticky, emptied at boot) rather than the temporary directory, which the
// tests leave as they found it.
const dpkgTestLock = "/run/lock/steward-test-dpkg.lock"

// holdDpkgLock takes, exclusively, the lock the collector's live tests
// take shared (agent/internal/collect), so they never compare this
// machine's packages with dpkg while the probe package comes and goes.
func holdDpkgLock(t *testing.T) {
	t.Helper()
	lockExclusive(t, dpkgTestLock, 0o666, "dpkg test lock")
}

// buildProbe builds a minimal .deb of probePackage at version with
// dpkg-deb and returns its path.
func buildProbe(t *testing.T, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	os.MkdirAll(filepath.Join(dir, "DEBIAN"), 0o755)
	control := fmt.Sprintf(`Package: %s
Version: %s
Architecture: all
Maintainer: Steward tests <tests@steward.invalid>
Description: probe package for Steward's end-to-end tests
 Installed and removed by server/internal/e2e; safe to purge.
`, probePackage, version)
	os.WriteFile(filepath.Join(dir, "DEBIAN", "control"), []byte(control), 0o644)
	deb := filepath.Join(t.TempDir(), probePackage+"_"+version+"_all.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", dir, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	return deb
}

func dpkg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
		t.Fatalf("dpkg %v: %v\n%s", args, err, out)
	}
}

type change struct {
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
	OldValue string `json:"old_value"`
	NewValue string `json:"new_value"`
}

// TestRealPackageChangesReachHistory is the change history's acceptance test:
// a package installed, upgraded and removed on a monitored machine shows
// up in `stewardctl hosts changes` after the agent's next collection. It
// changes this machine's dpkg database, so it needs root and cleans up.
func TestRealPackageChangesReachHistory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test installs a probe package with dpkg and needs root: run make test as root")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatal("dpkg-deb not found: apt-get install -y dpkg")
	}
	holdDpkgLock(t)
	exec.Command("dpkg", "--purge", probePackage).Run() // left over from an interrupted run
	t.Cleanup(func() { exec.Command("dpkg", "--purge", probePackage).Run() })
	v1, v2 := buildProbe(t, "1.0-1"), buildProbe(t, "1.1-1")

	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"), "--inventory-interval", "1s")
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the host reporting", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1, ""
	})
	id := itoa(hosts.Hosts[0].ID)

	waitFor := func(kind, oldV, newV string) {
		t.Helper()
		eventually(t, 60*time.Second, kind+" of "+probePackage, func() (bool, string) {
			var out struct {
				Changes []change `json:"changes"`
			}
			raw := s.ctl(t, "-o", "json", "hosts", "changes", id, "--kind", kind, "--subject", probePackage)
			if err := json.Unmarshal([]byte(raw), &out); err != nil {
				t.Fatalf("stewardctl hosts changes: %v\n%s", err, raw)
			}
			for _, c := range out.Changes {
				if c.OldValue == oldV && c.NewValue == newV {
					return true, ""
				}
			}
			return false, raw
		})
	}
	dpkg(t, "-i", v1)
	waitFor("software_installed", "", "1.0-1")
	dpkg(t, "-i", v2)
	waitFor("software_upgraded", "1.0-1", "1.1-1")
	dpkg(t, "--purge", probePackage)
	waitFor("software_removed", "1.1-1", "")

	// The table a person reads says the same.
	table := s.ctl(t, "hosts", "changes", id, "--subject", probePackage)
	for _, want := range []string{"software_installed", "software_upgraded", "software_removed", "1.0-1", "1.1-1"} {
		if !strings.Contains(table, want) {
			t.Errorf("stewardctl hosts changes table lacks %q:\n%s", want, table)
		}
	}
}
