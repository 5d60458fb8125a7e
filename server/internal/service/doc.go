// Package service runs steward-server as a system service on Linux: it
// writes the configuration file a service install runs with, creates the
// service account and data directory, and registers, starts, stops and
// removes the service through github.com/kardianos/service (systemd,
// SysV, OpenRC).
//
// manager.go, kardianos.go, cli.go, files.go and initscripts.go are
// copies of the agent's (agent/internal/service), which this package
// cannot import; TestCopiesMatchAgent keeps them identical. Change them
// there and copy them here. See docs/service.md.
package service
