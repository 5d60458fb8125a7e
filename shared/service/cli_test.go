package service_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/service"
	"github.com/steward-project/steward/shared/service/servicetest"
)

// harness runs the commands of a Tool named steward-test against a
// manager in memory; its install registers a fixed Spec.
type harness struct {
	t              *testing.T
	m              *servicetest.Manager
	admin          bool
	opened         []string // the --service-manager values Open was given
	installArgs    [][]string
	stdout, stderr bytes.Buffer
}

func newHarness(t *testing.T, platform string) *harness {
	return &harness{t: t, m: servicetest.New(platform), admin: true}
}

var testSpec = service.Spec{Name: "steward-test", Arguments: []string{"run", "--config", "/etc/steward/test.yaml"}}

// run runs one command and returns its exit code; stdout and stderr hold
// only this command's output.
func (h *harness) run(cmd string, args ...string) int {
	h.stdout.Reset()
	h.stderr.Reset()
	tool := &service.Tool{Prog: "steward-test", Name: "steward-test", Stdout: &h.stdout, Stderr: &h.stderr,
		Open:    servicetest.Open(h.m, &h.opened),
		Admin:   func() bool { return h.admin },
		LogHint: func(platform string) string { return "/var/log/steward-test.log (" + platform + ")" },
	}
	tool.Install = func(args []string) int {
		h.installArgs = append(h.installArgs, args)
		return tool.Register(h.m, testSpec)
	}
	code := tool.Run(cmd, args)
	h.t.Logf("%s %q -> exit %d\nstdout:\n%sstderr:\n%s", cmd, args, code, h.stdout.String(), h.stderr.String())
	return code
}

func TestServiceCommands(t *testing.T) {
	h := newHarness(t, service.SysV)
	step := func(cmd string, wantCode int, wantOut string) {
		t.Helper()
		if code := h.run(cmd); code != wantCode {
			t.Errorf("%s: exit %d, want %d", cmd, code, wantCode)
		}
		if out := h.stdout.String() + h.stderr.String(); !strings.Contains(out, wantOut) {
			t.Errorf("%s: output does not say %q", cmd, wantOut)
		}
	}
	step("status", service.ExitNotInstalled, "steward-test (unix-systemv): not installed")
	step("uninstall", service.ExitOK, "is not installed (unix-systemv); nothing to remove")
	step("start", service.ExitNotInstalled, "run steward-test install first")
	step("restart", service.ExitNotInstalled, "run steward-test install first")
	step("stop", service.ExitOK, "nothing to stop")
	if len(h.m.Mutating()) != 0 {
		t.Fatalf("commands on a missing service changed it: %v", h.m.Calls)
	}
	h.m.Installed = true
	step("status", service.ExitStopped, "steward-test (unix-systemv): stopped")
	step("stop", service.ExitOK, "already stopped")
	step("start", service.ExitOK, "started service steward-test")
	step("status", service.ExitOK, "steward-test (unix-systemv): running")
	step("start", service.ExitOK, "already running")
	step("restart", service.ExitOK, "restarted service steward-test")
	step("stop", service.ExitOK, "stopped service steward-test")
	step("start", service.ExitOK, "started")
	h.m.Calls = nil
	// Uninstall stops a running service first, and keeps what install
	// wrote.
	step("uninstall", service.ExitOK, "configuration and state are kept")
	if want := []string{"stop", "uninstall"}; !slices.Equal(h.m.Mutating(), want) {
		t.Errorf("uninstall of a running service: calls %v, want %v", h.m.Mutating(), want)
	}
	step("status", service.ExitNotInstalled, "not installed")

	// A service that dies at once is reported, with where to look.
	h.m.Installed, h.m.FailStart = true, true
	step("start", service.ExitFailure, "steward-test start: the service logs to /var/log/steward-test.log (unix-systemv)")
	step("restart", service.ExitFailure, "the service manager reports it stopped")
	h.m.Err = os.ErrPermission
	step("status", service.ExitFailure, "steward-test status: steward-test (unix-systemv): permission denied")
}

func TestServiceCommandUsage(t *testing.T) {
	h := newHarness(t, service.SysV)
	for _, args := range [][]string{{"status", "extra"}, {"stop", "--force"}, {"start", "--service-manager", "upstart"}} {
		if code := h.run(args[0], args[1:]...); code != service.ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, service.ExitUsage)
		}
	}
	if code := h.run("reload"); code != service.ExitUsage || !strings.Contains(h.stderr.String(), "unknown service command") {
		t.Errorf("reload: exit %d", code)
	}
	if code := h.run("status", "--service-manager", "sysv"); code != service.ExitNotInstalled || h.opened[len(h.opened)-1] != "sysv" {
		t.Errorf("--service-manager sysv: exit %d, opened %q", code, h.opened)
	}
	if len(h.m.Mutating()) != 0 {
		t.Errorf("usage errors changed the service: %v", h.m.Calls)
	}
}

// Every command but status needs root; install is the binary's own and
// checks for itself.
func TestServiceCommandsNeedAdmin(t *testing.T) {
	for _, cmd := range []string{"uninstall", "start", "stop", "restart"} {
		h := newHarness(t, service.SysV)
		h.admin = false
		if code := h.run(cmd); code != service.ExitFailure || !strings.Contains(h.stderr.String(), "steward-test "+cmd+": needs root") {
			t.Errorf("%s as a user: exit %d, stderr %q", cmd, code, h.stderr.String())
		}
		if len(h.m.Calls) != 0 {
			t.Errorf("%s as a user called the manager: %v", cmd, h.m.Calls)
		}
	}
	h := newHarness(t, service.SysV)
	h.admin = false
	if code := h.run("status"); code != service.ExitNotInstalled {
		t.Errorf("status as a user: exit %d", code)
	}
}

// Register installs once and leaves an installed service as it is, but
// enables a unit that does not start at boot.
func TestRegister(t *testing.T) {
	h := newHarness(t, service.Systemd)
	if code := h.run("install", "--flag"); code != service.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
	if len(h.installArgs) != 1 || !slices.Equal(h.installArgs[0], []string{"--flag"}) {
		t.Errorf("install got %q", h.installArgs)
	}
	if !slices.Equal(h.m.Mutating(), []string{"install"}) || !slices.Equal(h.m.Spec.Arguments, testSpec.Arguments) {
		t.Errorf("calls %v, spec %+v", h.m.Calls, h.m.Spec)
	}
	exe, _ := os.Executable()
	for _, want := range []string{"steward-test: installed service steward-test (linux-systemd): " + testSpec.CommandLine(exe),
		"steward-test: start it with: steward-test start"} {
		if !strings.Contains(h.stdout.String(), want) {
			t.Errorf("install does not say %q", want)
		}
	}

	h.m.Calls = nil
	if code := h.run("install"); code != service.ExitOK || len(h.m.Mutating()) != 0 ||
		!strings.Contains(h.stdout.String(), "service steward-test already installed (linux-systemd, stopped); registration left as it is") {
		t.Errorf("second install: exit %d, calls %v", code, h.m.Calls)
	}

	h.m.Disabled = true
	if code := h.run("install"); code != service.ExitOK || !slices.Equal(h.m.Mutating(), []string{"enable"}) ||
		!strings.Contains(h.stdout.String(), "enabled service steward-test to start at boot") {
		t.Errorf("install of a disabled unit: exit %d, calls %v", code, h.m.Calls)
	}

	h.m.Installed, h.m.Err = false, os.ErrPermission
	if code := h.run("install"); code != service.ExitFailure ||
		!strings.Contains(h.stderr.String(), "steward-test install: steward-test (linux-systemd): permission denied") {
		t.Errorf("install failing: exit %d", code)
	}
}

func TestSpecCommandLine(t *testing.T) {
	s := service.Spec{Arguments: []string{"run", "--config", "/etc/a b.yaml", ""}}
	if got := s.CommandLine("/usr/bin/x"); got != `/usr/bin/x run --config "/etc/a b.yaml" ""` {
		t.Errorf("CommandLine = %s", got)
	}
	s.Executable = "/opt/y"
	if got := s.CommandLine("/usr/bin/x"); got != `/opt/y run --config "/etc/a b.yaml" ""` {
		t.Errorf("CommandLine with Executable = %s", got)
	}
}
