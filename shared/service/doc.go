// Package service is the service-manager plumbing both steward-agent and
// steward-server use: install, uninstall, start, stop, restart and status
// of a system service over github.com/kardianos/service (systemd, SysV,
// OpenRC, launchd, the Windows service control manager), the files a
// service install writes (configuration edited in place, written through
// a rename, with tight modes) and the init scripts registered under SysV
// and OpenRC.
//
// Nothing here is specific to one binary: agent/internal/service and
// server/internal/service build their Tool on it and add their own
// install (the configuration each writes, the service's Spec) and where
// their logs go. See docs/service.md.
package service
