//go:build !windows

package service

import (
	"errors"
	"log/slog"
)

// underSCM is false: only Windows has a service control manager that
// talks to the process; elsewhere the manager sends SIGTERM.
func underSCM() bool { return false }

func serveSCM(string, *Program, *slog.Logger) error {
	return errors.New("no Windows service control manager on this system")
}
