package check

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// treeEnv marks every process a command leaf starts: the command gets a
// random value in it, which its descendants inherit, so that they can be
// told apart from everything else after they leave the command's process
// group (setsid) and its process tree (a double fork).
const treeEnv = "STEWARD_COMMAND_ID"

// reapTimeout bounds how long killing a command's processes waits for
// them to die and be reaped (a process stuck in the kernel cannot die).
const reapTimeout = 5 * time.Second

var subreaper struct {
	once sync.Once
	err  error
}

// becomeSubreaper makes this process a child subreaper: descendants
// orphaned by their parent are reparented to the agent instead of to
// init, where killing the command's tree finds and reaps them.
func becomeSubreaper() error {
	subreaper.once.Do(func() {
		subreaper.err = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	})
	return subreaper.err
}

// setProcessGroup starts the command in its own process group, marked
// with treeEnv, and makes cancellation kill everything it started.
func setProcessGroup(cmd *exec.Cmd) {
	_ = becomeSubreaper() // without it, the marker still finds the orphans
	var b [12]byte
	_, _ = rand.Read(b[:])
	cmd.Env = append(cmd.Environ(), treeEnv+"="+hex.EncodeToString(b[:]))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		killGroup(cmd)
		return nil
	}
}

// killGroup kills the command's process group and every process that
// descends from the command, in another session or group or not: those
// whose parent chain leads into the command's processes, and those that
// carry its treeEnv mark (orphans, reparented to the agent). Each round
// stops the processes found, so that none can fork past the scan, until
// a scan finds nothing new; then all are killed and the agent reaps those
// that became its children. A descendant that both dropped the mark
// from its environment and left the tree escapes.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	root := cmd.Process.Pid
	mark := markOf(cmd.Env)
	_ = syscall.Kill(-root, syscall.SIGSTOP)
	found := map[int]bool{}
	for range 100 {
		added := false
		for _, pid := range treeMembers(root, mark) {
			if !found[pid] {
				found[pid] = true
				added = true
				_ = syscall.Kill(pid, syscall.SIGSTOP)
			}
		}
		if !added {
			break
		}
	}
	_ = syscall.Kill(-root, syscall.SIGKILL) // ESRCH: nothing left
	for pid := range found {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	delete(found, root) // exec's Wait reaps the command itself
	reap(found, root)
}

// markOf returns the treeEnv entry of env, "" when there is none.
func markOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if strings.HasPrefix(env[i], treeEnv+"=") {
			return env[i]
		}
	}
	return ""
}

// procInfo is what /proc/PID/stat says about one process.
type procInfo struct {
	state      byte
	ppid, pgrp int
}

// readStat parses /proc/PID/stat; false when the process is gone.
func readStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return procInfo{}, false
	}
	return procInfo{state: f[0][0], ppid: ppid, pgrp: pgrp}, true
}

// hasMark reports whether the process's environment holds mark.
func hasMark(pid int, mark string) bool {
	if mark == "" {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if string(kv) == mark {
			return true
		}
	}
	return false
}

// treeMembers scans /proc for the processes (zombies included) that
// belong to the command whose process (and group) id is root: in its group, marked,
// or descended from one of those.
func treeMembers(root int, mark string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	infos := map[int]procInfo{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		// Zombies count too: one reparented to the agent (an intermediate
		// of a double fork that exited) must be found to be reaped. Its
		// environment is gone, but its group and parent still show.
		if info, ok := readStat(pid); ok {
			infos[pid] = info
		}
	}
	member := map[int]bool{}
	for pid, info := range infos {
		if info.pgrp == root || hasMark(pid, mark) {
			member[pid] = true
		}
	}
	// Descendants of members, whatever group or environment they have.
	for changed := true; changed; {
		changed = false
		for pid, info := range infos {
			if !member[pid] && member[info.ppid] {
				member[pid] = true
				changed = true
			}
		}
	}
	out := make([]int, 0, len(member))
	for pid := range member {
		out = append(out, pid)
	}
	return out
}

// reap waits for the killed processes to go: it collects those that are
// the agent's children (orphans reparented to it), and leaves the rest to
// their parents, until none is left or reapTimeout passes. A zombie whose
// parent is the command itself (root) or another killed process is kept:
// that parent will not reap it, and once the parent is gone it is the
// agent's child.
func reap(pids map[int]bool, root int) {
	self := os.Getpid()
	deadline := time.Now().Add(reapTimeout)
	pause := time.Millisecond
	for len(pids) > 0 {
		for pid := range pids {
			info, ok := readStat(pid)
			switch {
			case !ok:
				delete(pids, pid)
			case info.ppid == self:
				var ws unix.WaitStatus
				got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
				if got == pid || errors.Is(err, unix.ECHILD) {
					delete(pids, pid)
				}
			case info.state == 'Z' && !pids[info.ppid] && info.ppid != root:
				delete(pids, pid) // a parent outside the command reaps it
			}
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(pause) // the kernel tears killed processes down in its own time
		pause = min(2*pause, 50*time.Millisecond)
	}
}
