// Package service runs steward-server as a system service on Linux: it
// writes the configuration file a service install runs with, creates the
// service account and data directory, and registers, starts, stops and
// removes the service through shared/service, over
// github.com/kardianos/service (systemd, SysV, OpenRC).
//
// What is here is the server's own: its install, its Spec per manager and
// the service account; the commands, the managers, the file writing and
// the init scripts are shared/service's. See docs/service.md.
package service
