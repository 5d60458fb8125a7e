package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/kardianos/service"
)

// ErrUnknownManager is returned by Open for a --service-manager value that
// names no manager of this operating system.
var ErrUnknownManager = errors.New("unknown service manager")

// ManagerNames maps the --service-manager values to kardianos' names.
var ManagerNames = map[string]string{
	"systemd": Systemd,
	"sysv":    SysV,
	"openrc":  OpenRC,
	"launchd": Launchd,
	"windows": Windows,
}

// systems is kardianos' list of the managers of this operating system,
// in the order it detects them.
var systems = service.AvailableSystems()

// Open returns the manager for the service called name: the one kardianos
// detects on this machine, or, when manager is not empty, the one it names
// (a --service-manager value: systemd, sysv, openrc, launchd, windows).
// Choosing skips kardianos' detection, so that, say, a SysV script can be
// installed on a machine that boots with another manager.
func Open(name, manager string) (Manager, error) {
	if manager == "" {
		sys := service.ChosenSystem()
		if sys == nil {
			return nil, errors.New("no service manager detected on this machine")
		}
		return &kmanager{name: name, sys: sys}, nil
	}
	want, ok := ManagerNames[manager]
	if ok {
		for _, sys := range systems {
			if sys.String() == want {
				return &kmanager{name: name, sys: sys}, nil
			}
		}
	}
	var here []string
	for flagName, k := range ManagerNames {
		for _, sys := range systems {
			if sys.String() == k {
				here = append(here, flagName)
			}
		}
	}
	sort.Strings(here)
	return nil, fmt.Errorf("%w %q: on %s choose %s", ErrUnknownManager, manager, runtime.GOOS, strings.Join(here, ", "))
}

// kmanager drives one service through one kardianos system.
type kmanager struct {
	name string
	sys  service.System
}

// NoProgram satisfies kardianos' Interface for services that are only
// managed, never run, by this process (or whose system logger is all it
// wants).
type NoProgram struct{}

func (NoProgram) Start(service.Service) error { return nil }
func (NoProgram) Stop(service.Service) error  { return nil }

func (m *kmanager) Platform() string { return m.sys.String() }

func (m *kmanager) service(spec Spec) (service.Service, error) {
	return m.sys.New(NoProgram{}, &service.Config{
		Name:        m.name,
		DisplayName: spec.DisplayName,
		Description: spec.Description,
		UserName:    spec.UserName,
		Arguments:   spec.Arguments,
		Executable:  spec.Executable,
		Option:      service.KeyValue(spec.Options),
	})
}

// initScript is where SysV and OpenRC keep the service's script; empty for
// managers whose definitions live elsewhere (or in several places, like
// systemd's /etc and /usr/lib).
func (m *kmanager) initScript() string {
	switch m.Platform() {
	case SysV, OpenRC:
		return "/etc/init.d/" + m.name
	}
	return ""
}

// Status asks the manager and turns its answers into one of running,
// stopped and not installed; kardianos reports a few of those as errors
// depending on the backend.
func (m *kmanager) Status() (Status, error) {
	if script := m.initScript(); script != "" {
		// `service NAME status` on a missing script fails like any other
		// error; the script's absence is the answer.
		if _, err := os.Stat(script); errors.Is(err, fs.ErrNotExist) {
			return StatusNotInstalled, nil
		}
	}
	s, err := m.service(Spec{})
	if err != nil {
		return StatusUnknown, err
	}
	st, err := s.Status()
	var exit *exec.ExitError
	switch {
	case err == nil && st == service.StatusRunning:
		return StatusRunning, nil
	case err == nil && st == service.StatusStopped:
		return StatusStopped, nil
	case errors.Is(err, service.ErrNotInstalled):
		return StatusNotInstalled, nil
	case errors.As(err, &exit) && exit.ExitCode() == 3 && m.initScript() != "":
		// LSB: "program is not running", what the init scripts answer.
		return StatusStopped, nil
	case err != nil && m.Platform() == Systemd && strings.Contains(err.Error(), "failed state"):
		// A unit in the failed state is installed and not running.
		return StatusStopped, nil
	case err != nil:
		return StatusUnknown, fmt.Errorf("status: %w", err)
	}
	return StatusUnknown, fmt.Errorf("status: the service manager answered %d", st)
}

func (m *kmanager) Install(spec Spec) error {
	s, err := m.service(spec)
	if err != nil {
		return err
	}
	return s.Install()
}

func (m *kmanager) Uninstall() error {
	if m.Platform() == Systemd {
		// A unit a package shipped (under /usr/lib or /lib) is the
		// package's to remove: unregistering it is disabling it.
		unit := "/etc/systemd/system/" + m.name + ".service"
		if _, err := os.Stat(unit); errors.Is(err, fs.ErrNotExist) {
			if out, err := exec.Command("systemctl", "disable", m.name+".service").CombinedOutput(); err != nil {
				return fmt.Errorf("systemctl disable: %v: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	s, err := m.service(Spec{})
	if err != nil {
		return err
	}
	if err := s.Uninstall(); err != nil {
		return err
	}
	if m.Platform() == SysV {
		// kardianos links the script into the runlevel directories at
		// install but leaves the links behind at uninstall.
		return removeRunlevelLinks("/etc", m.initScript())
	}
	return nil
}

// runlevelLink matches the names of SysV start and kill links.
var runlevelLink = regexp.MustCompile(`^[SK][0-9][0-9]`)

// removeRunlevelLinks removes the links to script from etc/rc?.d.
func removeRunlevelLinks(etc, script string) error {
	dirs, _ := filepath.Glob(filepath.Join(etc, "rc?.d"))
	var errs []error
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Type()&fs.ModeSymlink == 0 || !runlevelLink.MatchString(e.Name()) {
				continue
			}
			link := filepath.Join(dir, e.Name())
			if target, err := os.Readlink(link); err == nil && target == script {
				if err := os.Remove(link); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Enabled asks systemd whether the unit starts at boot; other managers
// start every installed service.
func (m *kmanager) Enabled() (bool, error) {
	if m.Platform() != Systemd {
		return true, nil
	}
	out, err := exec.Command("systemctl", "is-enabled", m.name+".service").Output()
	state := strings.TrimSpace(string(out))
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return false, fmt.Errorf("systemctl is-enabled: %w", err)
	}
	return state != "disabled", nil
}

// Enable enables the systemd unit.
func (m *kmanager) Enable() error {
	if m.Platform() != Systemd {
		return nil
	}
	if out, err := exec.Command("systemctl", "enable", m.name+".service").CombinedOutput(); err != nil {
		return fmt.Errorf("systemctl enable: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (m *kmanager) Start() error   { return m.control((service.Service).Start) }
func (m *kmanager) Stop() error    { return m.control((service.Service).Stop) }
func (m *kmanager) Restart() error { return m.control((service.Service).Restart) }

func (m *kmanager) control(op func(service.Service) error) error {
	s, err := m.service(Spec{})
	if err != nil {
		return err
	}
	return op(s)
}
