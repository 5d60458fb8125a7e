//go:build !linux

package pgtest

import "syscall"

// owner is the OS user the cluster's files and processes belong to.
type owner struct {
	uid, gid uint32
}

// processOwner runs the cluster as ourselves; outside Linux developers run
// tests unprivileged or point STEWARD_TEST_DATABASE at a server.
func processOwner() (*owner, error) { return nil, nil }

func procAttr(*owner) *syscall.SysProcAttr { return nil }

// processAlive cannot tell without /proc, so nothing is reaped.
func processAlive(int) bool { return true }
