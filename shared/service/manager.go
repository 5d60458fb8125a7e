package service

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Exit codes of the service commands; status borrows the LSB init script
// codes so that scripts can test it without parsing the output.
const (
	ExitOK           = 0 // done; status: running
	ExitFailure      = 1 // the service manager or a file operation failed
	ExitUsage        = 2 // bad flags, missing or invalid configuration
	ExitStopped      = 3 // status: installed and not running
	ExitNotInstalled = 4 // status: not installed; start/restart: nothing to start
)

// Commands are the service commands every Steward binary offers.
var Commands = []string{"install", "uninstall", "start", "stop", "restart", "status"}

// IsCommand reports whether name is one of Commands.
func IsCommand(name string) bool {
	for _, c := range Commands {
		if c == name {
			return true
		}
	}
	return false
}

// Status is what a service manager says about one service.
type Status int

const (
	StatusUnknown Status = iota
	StatusRunning
	StatusStopped
	StatusNotInstalled
)

func (s Status) String() string {
	switch s {
	case StatusRunning:
		return "running"
	case StatusStopped:
		return "stopped"
	case StatusNotInstalled:
		return "not installed"
	}
	return "unknown"
}

// Platform names: kardianos' names for the service managers it drives,
// which Manager.Platform returns.
const (
	Systemd = "linux-systemd"
	SysV    = "unix-systemv"
	OpenRC  = "linux-openrc"
	Launchd = "darwin-launchd"
	Windows = "windows-service"
)

// Spec is how a service is registered.
type Spec struct {
	Name        string
	DisplayName string
	Description string
	// Executable is the program the service runs; empty means this one.
	Executable string
	Arguments  []string
	// UserName is the account the service runs as where the manager's
	// definition takes it from here (launchd, Windows); empty is the
	// manager's default (root, LocalSystem).
	UserName string
	// Options are kardianos' per-manager options, e.g. "SystemdScript".
	Options map[string]any
}

// CommandLine renders the program and arguments for messages.
func (s Spec) CommandLine(executable string) string {
	if s.Executable != "" {
		executable = s.Executable
	}
	parts := []string{executable}
	for _, a := range s.Arguments {
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Manager is the service manager of this machine, seen through one
// service name. Install registers the service from spec; Uninstall,
// Start, Stop and Restart act on the registered service; Status never
// fails for a service that is not installed, it says so.
type Manager interface {
	// Platform names the service manager, e.g. "unix-systemv".
	Platform() string
	Status() (Status, error)
	Install(spec Spec) error
	Uninstall() error
	Start() error
	Stop() error
	Restart() error
}

// Enabler is a Manager whose installed services may or may not start at
// boot: systemd, where a package can ship the unit file and leave
// enabling it to install.
type Enabler interface {
	// Enabled reports whether the installed service starts at boot; a
	// state other than enabled or disabled (masked, static) counts as
	// settled and is left alone.
	Enabled() (bool, error)
	// Enable makes the installed service start at boot.
	Enable() error
}

// WritablePaths adds a ReadWritePaths= line for each of paths to a
// systemd unit, right after its line that starts with after: units with
// ProtectSystem=strict can write only where they are told, and an
// operator may put state or logs outside the unit's own directories.
// A "-" prefix keeps a path that does not exist yet from failing the
// start.
func WritablePaths(unit, after string, paths []string) string {
	if len(paths) == 0 {
		return unit
	}
	var lines []string
	for _, p := range paths {
		lines = append(lines, fmt.Sprintf("ReadWritePaths=\"-%s\"", filepath.Clean(p)))
	}
	i := strings.Index(unit, "\n"+after)
	if i < 0 {
		return unit
	}
	end := strings.Index(unit[i+1:], "\n")
	if end < 0 {
		return unit + "\n" + strings.Join(lines, "\n") + "\n"
	}
	at := i + 1 + end + 1
	return unit[:at] + strings.Join(lines, "\n") + "\n" + unit[at:]
}
