//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The trigger test's two probe packages: one interested in a trigger,
// one activating it. Neither name can clash with a real Debian package.
const (
	triggerProbe   = "steward-e2e-trigger-probe"
	activatorProbe = "steward-e2e-trigger-activator"
	probeTrigger   = "steward-e2e-probe-trigger"
)

// lockSystemTests serialises, across test processes, the tests that
// install packages on this machine (installers/packaging takes the same
// lock): two dpkg runs at once fail on dpkg's own lock.
func lockSystemTests(t *testing.T) {
	t.Helper()
	lockExclusive(t, "/run/lock/steward-system-tests.lock", 0o600, "system tests lock")
}

// buildDeb builds a minimal .deb with the given DEBIAN/ files (control is
// written from name and version) and returns its path.
func buildDeb(t *testing.T, name, version string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	if err := os.MkdirAll(filepath.Join(dir, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	control := fmt.Sprintf(`Package: %s
Version: %s
Architecture: all
Maintainer: Steward tests <tests@steward.invalid>
Description: probe package for Steward's end-to-end tests
 Installed and removed by server/internal/e2e; safe to purge.
`, name, version)
	files["control"] = control
	for f, content := range files {
		mode := os.FileMode(0o644)
		if f == "postinst" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, "DEBIAN", f), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(t.TempDir(), name+"_"+version+"_all.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", dir, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	return deb
}

// TestDpkgTriggerCycleRecordsNoChange runs a real dpkg trigger cycle on
// this machine while an agent collects every second: the interested
// package goes triggers-pending and the activating one triggers-awaited,
// then the interested one half-configured while its postinst processes
// the trigger (held there until the test has seen it), and both end
// installed. The server
// sees each state in the inventory and records no software change for
// either package beyond its install.
func TestDpkgTriggerCycleRecordsNoChange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test installs probe packages with dpkg and needs root: run make test as root")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatal("dpkg-deb not found: apt-get install -y dpkg")
	}
	lockSystemTests(t)
	holdDpkgLock(t)
	purge := func() { exec.Command("dpkg", "--purge", activatorProbe, triggerProbe).Run() }
	purge() // left over from an interrupted run
	t.Cleanup(purge)

	// The postinst blocks on a FIFO while processing the trigger, which
	// keeps the package half-configured until the test opens the FIFO.
	fifo := filepath.Join(t.TempDir(), "release")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	release := func() error {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return err // ENXIO: nobody is waiting
		}
		return f.Close()
	}
	t.Cleanup(func() { release() }) // never leave dpkg hanging
	interested := buildDeb(t, triggerProbe, "1.0-1", map[string]string{
		"triggers": "interest " + probeTrigger + "\n",
		"postinst": fmt.Sprintf("#!/bin/sh\nset -e\nif [ \"$1\" = triggered ] && [ -p %s ]; then cat %s >/dev/null; fi\n", fifo, fifo),
	})
	activator := buildDeb(t, activatorProbe, "2.0-1", map[string]string{
		"triggers": "activate " + probeTrigger + "\n",
	})

	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"), "--inventory-interval", "1s")
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the host reporting", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1, ""
	})
	id := itoa(hosts.Hosts[0].ID)

	// probeChanges is every change recorded for the two probes; any beyond
	// their installs fails the test at once.
	probeChanges := func() []change {
		var all []change
		for _, p := range []string{triggerProbe, activatorProbe} {
			var out struct {
				Changes []change `json:"changes"`
			}
			raw := s.ctl(t, "-o", "json", "hosts", "changes", id, "--subject", p)
			if err := json.Unmarshal([]byte(raw), &out); err != nil {
				t.Fatalf("stewardctl hosts changes: %v\n%s", err, raw)
			}
			for _, c := range out.Changes {
				if c.Kind != "software_installed" || len(out.Changes) > 1 {
					t.Fatalf("software changes recorded for %s during a trigger cycle:\n%+v", p, out.Changes)
				}
			}
			all = append(all, out.Changes...)
		}
		return all
	}
	// states is what the server holds for the probes: name -> state, ""
	// for a plain installed package.
	states := func() (map[string]string, string) {
		var inv struct {
			Sections struct {
				Software struct {
					Packages []struct {
						Name, Version, Source, State string
					} `json:"packages"`
				} `json:"software"`
			} `json:"sections"`
		}
		s.get(t, "/api/v1/hosts/"+id+"/inventory", &inv)
		got := map[string]string{}
		for _, p := range inv.Sections.Software.Packages {
			if p.Name == triggerProbe || p.Name == activatorProbe {
				got[p.Name] = p.State
			}
		}
		return got, fmt.Sprint(got)
	}
	waitStates := func(what string, want map[string]string) {
		t.Helper()
		eventually(t, 60*time.Second, what, func() (bool, string) {
			probeChanges()
			got, show := states()
			if len(got) != len(want) {
				return false, show
			}
			for k, v := range want {
				if st, ok := got[k]; !ok || st != v {
					return false, show
				}
			}
			return true, show
		})
	}

	dpkg(t, "-i", interested)
	waitStates("the interested package installed", map[string]string{triggerProbe: ""})
	// Installing the activator without processing triggers leaves it
	// awaiting and the interested package with a pending trigger.
	dpkg(t, "--no-triggers", "-i", activator)
	waitStates("the trigger pending", map[string]string{triggerProbe: "triggers-pending", activatorProbe: "triggers-awaited"})

	proc := exec.Command("dpkg", "--triggers-only", "--pending")
	var out strings.Builder
	proc.Stdout, proc.Stderr = &out, &out
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	// dpkg releases the awaiting package as it starts processing.
	waitStates("the trigger being processed", map[string]string{triggerProbe: "half-configured", activatorProbe: ""})
	eventually(t, 60*time.Second, "the postinst waiting on its FIFO", func() (bool, string) {
		err := release()
		return err == nil, fmt.Sprint(err)
	})
	if err := proc.Wait(); err != nil {
		t.Fatalf("dpkg --triggers-only --pending: %v\n%s", err, out.String())
	}
	waitStates("both packages settled", map[string]string{triggerProbe: "", activatorProbe: ""})

	if got := probeChanges(); len(got) != 2 {
		t.Errorf("want one software_installed for each probe package, got %+v", got)
	}
}
