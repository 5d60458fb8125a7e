package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Tool is one binary's service commands: install, uninstall, start, stop,
// restart and status. The generic ones are here; install is the binary's
// own, since each writes its own configuration, and calls Register.
type Tool struct {
	// Prog prefixes messages, e.g. "steward-agent".
	Prog string
	// Name is the service's name in the service manager.
	Name string
	// Stdout takes what the commands did; Stderr what went wrong.
	Stdout, Stderr io.Writer
	// Open returns the service manager for a --service-manager value (""
	// for the detected one); Open(Name, manager) outside tests.
	Open func(manager string) (Manager, error)
	// Admin reports whether this process may change services (root,
	// an elevated Administrator).
	Admin func() bool
	// Install runs `install` with its arguments.
	Install func(args []string) int
	// LogHint says where the service's logs go under a platform, for
	// messages after a failed start; may be nil.
	LogHint func(platform string) string
}

// Run runs one service command and returns its exit code.
func (t *Tool) Run(cmd string, args []string) int {
	if cmd == "install" {
		return t.Install(args)
	}
	if !IsCommand(cmd) {
		fmt.Fprintf(t.Stderr, "%s: unknown service command %q (want %s)\n", t.Prog, cmd, strings.Join(Commands, ", "))
		return ExitUsage
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(t.Stderr)
	manager := ManagerFlag(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(t.Stderr, "%s %s: unexpected argument %q\n", t.Prog, cmd, fs.Arg(0))
		return ExitUsage
	}
	if !t.CheckManagerName(cmd, *manager) {
		return ExitUsage
	}
	if cmd != "status" && !t.CheckAdmin(cmd) {
		return ExitFailure
	}
	m, code := t.OpenManager(cmd, *manager)
	if m == nil {
		return code
	}
	switch cmd {
	case "uninstall":
		return t.uninstall(m)
	case "start":
		return t.start(m)
	case "stop":
		return t.stop(m)
	case "restart":
		return t.restart(m)
	default:
		return t.status(m)
	}
}

// ManagerFlag adds --service-manager to fs.
func ManagerFlag(fs *flag.FlagSet) *string {
	return fs.String("service-manager", "", "use this service manager instead of the detected one: "+strings.Join(managerFlagNames(), ", "))
}

// managerFlagNames lists the --service-manager values.
func managerFlagNames() []string {
	names := make([]string, 0, len(ManagerNames))
	for n := range ManagerNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckManagerName says so and returns false when a --service-manager
// value is none of ManagerNames; whether this system has that manager is
// Open's to say.
func (t *Tool) CheckManagerName(cmd, manager string) bool {
	if _, ok := ManagerNames[manager]; ok || manager == "" {
		return true
	}
	fmt.Fprintf(t.Stderr, "%s %s: %v %q: want one of %s\n", t.Prog, cmd, ErrUnknownManager, manager, strings.Join(managerFlagNames(), ", "))
	return false
}

// CheckAdmin says so and returns false when this process may not change
// services.
func (t *Tool) CheckAdmin(cmd string) bool {
	if t.Admin == nil || t.Admin() {
		return true
	}
	fmt.Fprintf(t.Stderr, "%s %s: needs root (an elevated Administrator on Windows)\n", t.Prog, cmd)
	return false
}

// OpenManager opens the service manager, or reports why it cannot and
// returns the exit code: usage for an unknown --service-manager.
func (t *Tool) OpenManager(cmd, manager string) (Manager, int) {
	m, err := t.Open(manager)
	if err == nil {
		return m, ExitOK
	}
	fmt.Fprintf(t.Stderr, "%s %s: %v\n", t.Prog, cmd, err)
	if errors.Is(err, ErrUnknownManager) {
		return nil, ExitUsage
	}
	return nil, ExitFailure
}

// Say prints what was done, prefixed with Prog.
func (t *Tool) Say(format string, a ...any) {
	fmt.Fprintf(t.Stdout, t.Prog+": "+format+"\n", a...)
}

// Fail prints what went wrong with cmd, naming the service and its
// manager (and, for start and restart, where the service logs), and
// returns ExitFailure.
func (t *Tool) Fail(cmd string, m Manager, err error) int {
	fmt.Fprintf(t.Stderr, "%s %s: %s (%s): %v\n", t.Prog, cmd, t.Name, m.Platform(), err)
	if t.LogHint != nil && (cmd == "start" || cmd == "restart") {
		if hint := t.LogHint(m.Platform()); hint != "" {
			fmt.Fprintf(t.Stderr, "%s %s: the service logs to %s\n", t.Prog, cmd, hint)
		}
	}
	return ExitFailure
}

// Register installs spec unless the service is already registered, which
// it leaves as it is: running install twice changes nothing.
func (t *Tool) Register(m Manager, spec Spec) int {
	st, err := m.Status()
	if err != nil {
		return t.Fail("install", m, err)
	}
	if st != StatusNotInstalled {
		t.Say("service %s already installed (%s, %s); registration left as it is", t.Name, m.Platform(), st)
		// A unit a package shipped is installed but maybe not enabled:
		// registering it means starting it at boot.
		if e, ok := m.(Enabler); ok {
			on, err := e.Enabled()
			if err == nil && !on {
				err = e.Enable()
				if err == nil {
					t.Say("enabled service %s to start at boot", t.Name)
				}
			}
			if err != nil {
				return t.Fail("install", m, err)
			}
		}
		return ExitOK
	}
	if err := m.Install(spec); err != nil {
		return t.Fail("install", m, err)
	}
	exe, _ := os.Executable()
	t.Say("installed service %s (%s): %s", t.Name, m.Platform(), spec.CommandLine(exe))
	t.Say("start it with: %s start", t.Prog)
	return ExitOK
}

func (t *Tool) uninstall(m Manager) int {
	st, err := m.Status()
	if err != nil {
		return t.Fail("uninstall", m, err)
	}
	if st == StatusNotInstalled {
		t.Say("service %s is not installed (%s); nothing to remove", t.Name, m.Platform())
		return ExitOK
	}
	// A service removed while it runs can no longer be stopped through
	// its manager.
	if st == StatusRunning {
		if err := m.Stop(); err != nil {
			return t.Fail("uninstall", m, fmt.Errorf("stop: %w", err))
		}
		t.Say("stopped service %s", t.Name)
	}
	if err := m.Uninstall(); err != nil {
		return t.Fail("uninstall", m, err)
	}
	t.Say("removed service %s (%s); configuration and state are kept", t.Name, m.Platform())
	return ExitOK
}

func (t *Tool) start(m Manager) int {
	st, err := m.Status()
	switch {
	case err != nil:
		return t.Fail("start", m, err)
	case st == StatusNotInstalled:
		fmt.Fprintf(t.Stderr, "%s start: service %s is not installed (%s); run %s install first\n", t.Prog, t.Name, m.Platform(), t.Prog)
		return ExitNotInstalled
	case st == StatusRunning:
		t.Say("service %s is already running", t.Name)
		return ExitOK
	}
	if err := m.Start(); err != nil {
		return t.Fail("start", m, err)
	}
	return t.confirmRunning("start", "started", m)
}

// confirmRunning asks once more after a start: a service that exits at
// once (a configuration error) is reported rather than announced.
func (t *Tool) confirmRunning(cmd, done string, m Manager) int {
	st, err := m.Status()
	if err != nil {
		return t.Fail(cmd, m, err)
	}
	if st != StatusRunning {
		return t.Fail(cmd, m, fmt.Errorf("the service manager reports it %s", st))
	}
	t.Say("%s service %s", done, t.Name)
	return ExitOK
}

func (t *Tool) stop(m Manager) int {
	st, err := m.Status()
	switch {
	case err != nil:
		return t.Fail("stop", m, err)
	case st == StatusNotInstalled:
		t.Say("service %s is not installed (%s); nothing to stop", t.Name, m.Platform())
		return ExitOK
	case st == StatusStopped:
		t.Say("service %s is already stopped", t.Name)
		return ExitOK
	}
	if err := m.Stop(); err != nil {
		return t.Fail("stop", m, err)
	}
	t.Say("stopped service %s", t.Name)
	return ExitOK
}

func (t *Tool) restart(m Manager) int {
	st, err := m.Status()
	switch {
	case err != nil:
		return t.Fail("restart", m, err)
	case st == StatusNotInstalled:
		fmt.Fprintf(t.Stderr, "%s restart: service %s is not installed (%s); run %s install first\n", t.Prog, t.Name, m.Platform(), t.Prog)
		return ExitNotInstalled
	}
	if err := m.Restart(); err != nil {
		return t.Fail("restart", m, err)
	}
	return t.confirmRunning("restart", "restarted", m)
}

func (t *Tool) status(m Manager) int {
	st, err := m.Status()
	if err != nil {
		return t.Fail("status", m, err)
	}
	fmt.Fprintf(t.Stdout, "%s (%s): %s\n", t.Name, m.Platform(), st)
	switch st {
	case StatusRunning:
		return ExitOK
	case StatusStopped:
		return ExitStopped
	default:
		return ExitNotInstalled
	}
}
