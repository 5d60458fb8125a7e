package check

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/shared/policy"
)

// escapeScript starts a process in a session of its own (setsid) and one
// orphaned by a double fork, and writes both pids to the file "$1", then
// "started".
const escapeScript = `setsid sh -c 'echo setsid=$$ >>"$1"; exec sleep 600' sh "$1" &
sh -c 'sleep 601 & echo orphan=$! >>"$1"' sh "$1"
while [ "$(grep -c = "$1")" -lt 2 ]; do sleep 0.01; done
echo started >>"$1"
`

// readPids polls the file escapeScript writes until it says "started"
// (at most ten seconds) and returns the pids in it by name ("setsid",
// "orphan").
func readPids(t *testing.T, file string) map[string]int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		if strings.Contains(string(b), "started") {
			pids := map[string]int{}
			for _, line := range strings.Fields(string(b)) {
				if k, v, ok := strings.Cut(line, "="); ok {
					pid, err := strconv.Atoi(v)
					if err != nil {
						t.Fatalf("pid file %q", b)
					}
					pids[k] = pid
				}
			}
			if pids["setsid"] == 0 || pids["orphan"] == 0 {
				t.Fatalf("want two pids in %q", b)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command did not start its processes: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone polls /proc until pid has no entry at all (killed and reaped),
// failing the test if it is still there after ten seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, ok := readStat(pid)
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			t.Errorf("process %d (%q) still there, state %c, parent %d", pid, cmdline, info.state, info.ppid)
			_ = unix.Kill(pid, unix.SIGKILL) // leave no sleeper behind the test
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"sh", "setsid", "sleep", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s: %v", tool, err)
		}
	}
}

// A command stopped at its time limit is killed with every process it
// started, one in a session of its own and one orphaned by a double fork
// included, and the agent reaps them. Cancelling the context is what the
// leaf's timeout does.
func TestCommandTimeoutKillsEveryDescendant(t *testing.T) {
	needTools(t)
	env := commandEnv(t, true)
	file := t.TempDir() + "/pids"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		res policy.CommandResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := env.Run(ctx, []string{"sh", "-c", escapeScript + "sleep 600\n", "sh", file}, 4096)
		done <- result{res, err}
	}()
	pids := readPids(t, file)
	// The agent is a subreaper: the orphan is its child now, not init's.
	if info, ok := readStat(pids["orphan"]); !ok || info.ppid != os.Getpid() {
		t.Errorf("orphan %d: parent %d (alive %t), want the agent %d", pids["orphan"], info.ppid, ok, os.Getpid())
	}
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Run: %+v %v, want cancelled", r.res, r.err)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

// A command that exits leaving such processes behind has them killed and
// reaped too.
func TestCommandExitKillsEveryDescendant(t *testing.T) {
	needTools(t)
	env := commandEnv(t, true)
	file := t.TempDir() + "/pids"
	res, err := env.Run(context.Background(), []string{"sh", "-c", escapeScript, "sh", file}, 4096)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: %+v %v", res, err)
	}
	for _, pid := range readPids(t, file) {
		waitGone(t, pid)
	}
}
