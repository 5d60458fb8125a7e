package check

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// A command that hangs is killed at its timeout with everything it
// started, and reported as an error with what it printed.
func TestCommandHangs(t *testing.T) {
	env := commandEnv(t, true)
	start := time.Now()
	r := evaluate(t, env, `{command: {run: [sh, -c, "echo $$; sleep 60 & sleep 60; wait"], timeout: 300ms}}`)
	took := time.Since(start)
	if r.Status != policy.StatusError || r.Error != `check.command: command "sh" timed out after 300ms and was killed` {
		t.Errorf("status %s, error %q", r.Status, r.Error)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("took %s", took)
	}
	// The shell printed its pid, which is its process group's id.
	detail := r.Evidence[0].Detail
	_, out, _ := strings.Cut(detail, `output "`)
	pgid, err := strconv.Atoi(strings.TrimSuffix(out, `\n"`))
	if err != nil {
		t.Fatalf("no pid in %q", detail)
	}
	waitGroupGone(t, pgid)
}

// A command that exits leaving a child holding its output open returns
// at once, and the child is killed.
func TestCommandLeavesNothingBehind(t *testing.T) {
	env := commandEnv(t, true)
	start := time.Now()
	res, err := env.Run(context.Background(), []string{"sh", "-c", "sleep 60 & echo $$"}, 1024)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: %+v %v", res, err)
	}
	if took := time.Since(start); took > drainDelay {
		t.Errorf("took %s", took)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(res.Output)))
	if err != nil {
		t.Fatalf("output %q", res.Output)
	}
	waitGroupGone(t, pgid)
}

// waitGroupGone fails the test unless process group pgid has no live
// process within two seconds. Zombies count as gone: they are dead and
// wait only for their new parent (init, or this sandbox's PID 1, which
// reaps lazily) to collect them.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		live := liveInGroup(t, pgid)
		if len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process group %d still has live processes: %v", pgid, live)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveInGroup lists "pid (comm) state" for non-zombie processes in pgid,
// from /proc/PID/stat (fields after the command: state, ppid, pgrp).
func liveInGroup(t *testing.T, pgid int) []string {
	t.Helper()
	files, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(files) == 0 {
		t.Fatalf("reading /proc: %v", err)
	}
	var live []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[end+1:])
		if len(fields) < 3 || fields[2] != strconv.Itoa(pgid) || fields[0] == "Z" {
			continue
		}
		live = append(live, strings.TrimSpace(s[:end+1])+" "+fields[0])
	}
	return live
}
