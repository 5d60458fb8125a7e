// Package servicetest provides a service manager in memory for tests of
// the service commands built on shared/service.
package servicetest

import (
	"errors"

	"github.com/steward-project/steward/shared/service"
)

// Manager is a service manager in memory: it records the calls made to it
// and answers from its state. It is a service.Manager and a
// service.Enabler.
type Manager struct {
	// Name is the platform it reports, e.g. service.SysV.
	Name      string
	Installed bool
	Running   bool
	// Spec is what the last Install registered.
	Spec  service.Spec
	Calls []string
	// FailStart makes Start and Restart succeed while the service does
	// not come up, as a service that exits at once on a bad
	// configuration.
	FailStart bool
	// Err is returned by Status and Install (and Enabled) when set.
	Err error
	// Disabled is an installed service that does not start at boot (a
	// unit shipped by a package).
	Disabled bool
}

// New returns a manager of platform with nothing installed.
func New(platform string) *Manager { return &Manager{Name: platform} }

func (f *Manager) Platform() string { return f.Name }

func (f *Manager) Status() (service.Status, error) {
	f.Calls = append(f.Calls, "status")
	switch {
	case f.Err != nil:
		return service.StatusUnknown, f.Err
	case !f.Installed:
		return service.StatusNotInstalled, nil
	case f.Running:
		return service.StatusRunning, nil
	}
	return service.StatusStopped, nil
}

func (f *Manager) Install(spec service.Spec) error {
	f.Calls = append(f.Calls, "install")
	if f.Err != nil {
		return f.Err
	}
	if f.Installed {
		return errors.New("already installed")
	}
	f.Installed, f.Spec = true, spec
	return nil
}

func (f *Manager) Uninstall() error {
	f.Calls = append(f.Calls, "uninstall")
	if !f.Installed {
		return errors.New("not installed")
	}
	if f.Running {
		return errors.New("uninstalled while running")
	}
	f.Installed = false
	return nil
}

func (f *Manager) Start() error { return f.start("start") }

func (f *Manager) Restart() error { return f.start("restart") }

// start is Start and Restart, recorded as call: the service runs unless
// FailStart.
func (f *Manager) start(call string) error {
	f.Calls = append(f.Calls, call)
	if !f.Installed {
		return errors.New("not installed")
	}
	f.Running = !f.FailStart
	return nil
}

func (f *Manager) Stop() error {
	f.Calls = append(f.Calls, "stop")
	f.Running = false
	return nil
}

func (f *Manager) Enabled() (bool, error) { return !f.Disabled, f.Err }

func (f *Manager) Enable() error {
	f.Calls = append(f.Calls, "enable")
	f.Disabled = false
	return nil
}

// Mutating returns the calls other than status.
func (f *Manager) Mutating() []string {
	var out []string
	for _, c := range f.Calls {
		if c != "status" {
			out = append(out, c)
		}
	}
	return out
}

// Open returns an Open function for service.Tool that answers with m and
// records each --service-manager value it is given in opened (when not
// nil); a value that names no manager is refused as Open would refuse it.
func Open(m *Manager, opened *[]string) func(manager string) (service.Manager, error) {
	return func(manager string) (service.Manager, error) {
		if opened != nil {
			*opened = append(*opened, manager)
		}
		if manager != "" {
			if _, ok := service.ManagerNames[manager]; !ok {
				return nil, service.ErrUnknownManager
			}
		}
		return m, nil
	}
}
