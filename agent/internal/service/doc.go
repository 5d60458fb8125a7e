// Package service runs steward-agent as a system service: it registers,
// starts, stops and removes the service through github.com/kardianos/service
// (systemd, SysV, OpenRC, launchd, the Windows service control manager),
// writes the configuration a service install runs with, and hosts the
// agent under a service manager (Start returns at once, Stop cancels and
// waits for the agent to close its connection and save its state) with
// logs where that manager keeps them.
//
// The files manager.go, kardianos.go, cli.go, files.go and initscripts.go
// hold nothing specific to the agent; server/internal/service carries
// identical copies (it cannot import this internal package), and a test
// there keeps them identical. See docs/service.md.
package service
