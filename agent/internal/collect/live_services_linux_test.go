package collect

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// TestLiveServices checks the services section on this machine: against
// systemctl where systemd runs it, and against `service --status-all`
// where it does not (containers, and build machines like this one).
func TestLiveServices(t *testing.T) {
	t.Parallel()
	services := liveCollect[inventory.Services](t, collectServices)
	got := make(map[string]inventory.Service)
	for _, s := range services.Services {
		got[s.Name] = s
	}
	if exists("/run/systemd/system") {
		t.Run("unit files equal systemctl list-unit-files", func(t *testing.T) {
			compareUnitFiles(t, services.Services, systemTool(t, "systemd", "systemctl",
				"list-unit-files", "--type=service", "--no-legend", "--no-pager"))
		})
		t.Run("states agree with systemctl list-units", func(t *testing.T) {
			compareUnitStates(t, got, systemTool(t, "systemd", "systemctl",
				"list-units", "--type=service", "--all", "--plain", "--no-legend", "--no-pager"))
		})
		return
	}
	t.Run("init scripts agree with service --status-all", func(t *testing.T) {
		compareInitScripts(t, got)
	})
}

// TestLiveUnitFiles reads this machine's unit files the way an offline
// image is read, and compares them with `systemctl --root=/`, which reads
// the same files without asking the service manager (so it works where
// systemd is installed but not running, as here).
func TestLiveUnitFiles(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	if len(systemdUnitFiles(cfg)) == 0 {
		t.Fatal("no systemd unit files on this machine; the systemd reader cannot be checked here (apt-get install systemd)")
	}
	svcs, err := systemdServices(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	compareUnitFiles(t, svcs, systemTool(t, "systemd", "systemctl",
		"--root=/", "list-unit-files", "--type=service", "--no-legend", "--no-pager"))
}

// compareUnitFiles checks names and start modes against
// `systemctl list-unit-files` lines ("ssh.service enabled enabled").
// Templates are compared through their instances, and units made at run
// time (generated, transient) are left out: their enablement is not what
// the files under /etc say.
func compareUnitFiles(t *testing.T, svcs []inventory.Service, listing string) {
	t.Helper()
	mode := map[string]string{
		"enabled": inventory.StartAuto, "enabled-runtime": inventory.StartAuto,
		"masked": inventory.StartDisabled, "masked-runtime": inventory.StartDisabled,
		"static": inventory.StartManual, "disabled": inventory.StartManual,
		"indirect": inventory.StartManual, "linked": inventory.StartManual, "linked-runtime": inventory.StartManual,
	}
	got := make(map[string]inventory.Service)
	for _, s := range svcs {
		got[s.Name] = s
	}
	want := make(map[string]bool)
	for line := range strings.Lines(listing) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, state := strings.TrimSuffix(f[0], ".service"), f[1]
		switch {
		case state == "alias":
			if _, ok := got[name]; ok {
				t.Errorf("alias %s listed as a service", name)
			}
		case strings.HasSuffix(name, "@"):
			compareTemplate(t, name, state, svcs)
		case state == "generated" || state == "transient":
			want[name] = true
		default:
			want[name] = true
			s, ok := got[name]
			if !ok {
				t.Errorf("%s: systemctl lists it (%s), not collected", name, state)
				continue
			}
			if m, known := mode[state]; !known || s.StartMode != m {
				t.Errorf("%s: start mode %s, systemctl says %s", name, s.StartMode, state)
			}
		}
	}
	for name, s := range got {
		if !want[name] && !strings.Contains(name, "@") {
			t.Errorf("%s collected (%s), systemctl does not list it", name, s.Path)
		}
	}
	t.Logf("%d services agree", len(want))
}

// compareTemplate: systemctl says "enabled" for a template when an
// instance of it is enabled; those instances must be listed as auto.
func compareTemplate(t *testing.T, prefix, state string, svcs []inventory.Service) {
	t.Helper()
	instances := 0
	for _, s := range svcs {
		if strings.HasPrefix(s.Name, prefix) && s.StartMode == inventory.StartAuto {
			instances++
		}
	}
	if (state == "enabled") != (instances > 0) {
		t.Errorf("template %s.service is %s, %d instances collected as auto", prefix, state, instances)
	}
}

// compareUnitStates: a unit whose main process runs ("running") must be
// collected running, and one collected running must be active.
func compareUnitStates(t *testing.T, got map[string]inventory.Service, listing string) {
	t.Helper()
	for line := range strings.Lines(listing) {
		f := strings.Fields(line) // UNIT LOAD ACTIVE SUB DESCRIPTION...
		if len(f) < 4 {
			continue
		}
		s, ok := got[strings.TrimSuffix(f[0], ".service")]
		if !ok {
			continue // instances that are not enabled, transient units
		}
		if f[3] == "running" && s.State != inventory.ServiceRunning {
			t.Errorf("%s: systemctl says running, collected %s", f[0], s.State)
		}
		if s.State == inventory.ServiceRunning && f[2] != "active" && f[2] != "reloading" && f[2] != "deactivating" {
			t.Errorf("%s: collected running, systemctl says %s/%s", f[0], f[2], f[3])
		}
	}
}

// compareInitScripts checks names against `service --status-all` ("[ + ]"
// running, "[ - ]" not, "[ ? ]" no status), start modes against the start
// links in the boot runlevels, and that a state the collector claims
// agrees with the script's own status.
func compareInitScripts(t *testing.T, got map[string]inventory.Service) {
	t.Helper()
	listed := make(map[string]bool)
	// The script's status goes to stdout, "[ ? ]" lines to stderr.
	if _, err := exec.LookPath("service"); err != nil {
		t.Fatalf("service is needed to check the init scripts: apt-get install init-system-helpers (%v)", err)
	}
	status := systemTool(t, "dash", "sh", "-c", "service --status-all 2>&1")
	for line := range strings.Lines(status) {
		f := strings.Fields(strings.ReplaceAll(strings.ReplaceAll(line, "[", " "), "]", " "))
		if len(f) != 2 {
			continue
		}
		status, name := f[0], f[1]
		listed[name] = true
		s, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: service --status-all lists it, not collected", name)
		case s.State == inventory.ServiceRunning && status != "+":
			t.Errorf("%s: collected running, its status says %s", name, status)
		case s.State == inventory.ServiceStopped && status == "+":
			t.Errorf("%s: collected stopped, its status says running", name)
		}
	}
	for name := range got {
		if !listed[name] {
			t.Errorf("%s collected, service --status-all does not list it", name)
		}
	}
	boot := make(map[string]bool)
	for _, link := range strings.Fields(systemTool(t, "coreutils", "sh", "-c",
		"ls /etc/rcS.d /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d 2>/dev/null | grep '^S' || true")) {
		boot[strings.TrimLeft(link[1:], "0123456789")] = true
	}
	for name, s := range got {
		if want := map[bool]string{true: inventory.StartAuto, false: inventory.StartManual}[boot[name]]; s.StartMode != want {
			t.Errorf("%s: start mode %s, rc links say %s", name, s.StartMode, want)
		}
	}
	if len(got) == 0 {
		t.Error("no init scripts collected; the fallback cannot be checked here")
	}
}
