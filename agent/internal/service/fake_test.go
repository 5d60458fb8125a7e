package service

import (
	"bytes"
	"errors"
	"testing"
)

// fakeManager is a service manager in memory: it records the calls made
// to it and answers from its state.
type fakeManager struct {
	platform  string
	installed bool
	running   bool
	spec      Spec
	calls     []string
	// failStart makes Start succeed while the service does not come up,
	// as a service that exits at once on a bad configuration.
	failStart bool
	err       error // returned by every call when set
	// disabled is an installed service that does not start at boot (a
	// unit shipped by a package).
	disabled bool
}

func (f *fakeManager) Enabled() (bool, error) { return !f.disabled, f.err }

func (f *fakeManager) Enable() error {
	f.calls = append(f.calls, "enable")
	f.disabled = false
	return nil
}

func (f *fakeManager) Platform() string { return f.platform }

func (f *fakeManager) Status() (Status, error) {
	f.calls = append(f.calls, "status")
	switch {
	case f.err != nil:
		return StatusUnknown, f.err
	case !f.installed:
		return StatusNotInstalled, nil
	case f.running:
		return StatusRunning, nil
	}
	return StatusStopped, nil
}

func (f *fakeManager) Install(spec Spec) error {
	f.calls = append(f.calls, "install")
	if f.err != nil {
		return f.err
	}
	if f.installed {
		return errors.New("already installed")
	}
	f.installed, f.spec = true, spec
	return nil
}

func (f *fakeManager) Uninstall() error {
	f.calls = append(f.calls, "uninstall")
	if !f.installed {
		return errors.New("not installed")
	}
	if f.running {
		return errors.New("uninstalled while running")
	}
	f.installed = false
	return nil
}

func (f *fakeManager) Start() error {
	f.calls = append(f.calls, "start")
	if !f.installed {
		return errors.New("not installed")
	}
	f.running = !f.failStart
	return nil
}

func (f *fakeManager) Stop() error {
	f.calls = append(f.calls, "stop")
	f.running = false
	return nil
}

func (f *fakeManager) Restart() error {
	f.calls = append(f.calls, "restart")
	if !f.installed {
		return errors.New("not installed")
	}
	f.running = !f.failStart
	return nil
}

// mutating returns the calls other than status.
func (f *fakeManager) mutating() []string {
	var out []string
	for _, c := range f.calls {
		if c != "status" {
			out = append(out, c)
		}
	}
	return out
}

// harness runs steward-agent's service commands against a fake manager.
type harness struct {
	t              *testing.T
	m              *fakeManager
	admin          bool
	opened         []string // the --service-manager values Open was given
	stdout, stderr bytes.Buffer
}

func newHarness(t *testing.T, platform string) *harness {
	return &harness{t: t, m: &fakeManager{platform: platform}, admin: true}
}

// run runs one command and returns its exit code; stdout and stderr hold
// only this command's output.
func (h *harness) run(cmd string, args ...string) int {
	h.stdout.Reset()
	h.stderr.Reset()
	tool := NewAgentTool("steward-agent", &h.stdout, &h.stderr, func(manager string) (Manager, error) {
		h.opened = append(h.opened, manager)
		if manager != "" {
			if _, ok := ManagerNames[manager]; !ok {
				return nil, ErrUnknownManager
			}
		}
		return h.m, nil
	})
	tool.Admin = func() bool { return h.admin }
	code := tool.Run(cmd, args)
	h.t.Logf("%s %q -> exit %d\nstdout:\n%sstderr:\n%s", cmd, args, code, h.stdout.String(), h.stderr.String())
	return code
}
