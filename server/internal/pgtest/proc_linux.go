package pgtest

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// owner is the OS user the cluster's files and processes belong to.
type owner struct {
	uid, gid uint32
}

// processOwner returns the postgres user when running as root, because
// initdb and postgres refuse to run as root; nil means "as ourselves".
func processOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user to run the cluster as (%s creates it): %w", installHint, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &owner{uid: uint32(uid), gid: uint32(gid)}, nil
}

// procAttr runs a child as o (the same as `runuser -u postgres --`, minus
// the extra process between us and postgres, so signals reach it
// directly) and interrupts it should the test binary die without stopping
// it: SIGINT is PostgreSQL's fast shutdown.
func procAttr(o *owner) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
	if o != nil {
		a.Credential = &syscall.Credential{Uid: o.uid, Gid: o.gid}
	}
	return a
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
