// Package service runs steward-agent as a system service: it builds
// steward-agent's service commands on shared/service (which registers,
// starts, stops and removes the service through
// github.com/kardianos/service: systemd, SysV, OpenRC, launchd, the
// Windows service control manager), writes the configuration a service
// install runs with, and hosts the agent under a service manager (Start
// returns at once, Stop cancels and waits for the agent to close its
// connection and save its state) with logs where that manager keeps them.
//
// What is here is the agent's own: its install, its Spec per manager,
// the program, logging (rotated file, journal, event log) and the
// Windows access list of its directory. See docs/service.md.
package service
