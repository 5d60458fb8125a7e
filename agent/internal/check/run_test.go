//go:build !windows

package check

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

func commandEnv(t *testing.T, allow bool) policy.Env {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatalf("command tests need sh: %v", err)
	}
	return NewEnv(context.Background(), Config{AllowCommands: allow}, inventory.Document{})
}

func TestCommandRefused(t *testing.T) {
	cases := []struct {
		name string
		env  policy.Env
		want string
	}{
		{"not allowed", commandEnv(t, false),
			`check.command: command "sh" refused: commands are disabled: the agent's local config does not set allow_commands: true`},
		{"allowed but checking an image", NewEnv(context.Background(), Config{Root: t.TempDir(), AllowCommands: true}, inventory.Document{}),
			`check.command: command "sh": not available here: commands run on this machine, not on the root file system being checked`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := evaluate(t, c.env, `{command: {run: [sh, -c, "exit 0"]}}`)
			if r.Status != policy.StatusError || !strings.HasPrefix(r.Error, c.want) ||
				len(r.Evidence) != 1 || !strings.HasPrefix(r.Evidence[0].Detail, "error: command") {
				t.Errorf("status %s, error %q, evidence %+v", r.Status, r.Error, r.Evidence)
			}
		})
	}
}

func TestCommandResults(t *testing.T) {
	env := commandEnv(t, true)
	cases := []struct {
		name, check string
		want        policy.Status
		detail      string
	}{
		{"exit code and both streams", `{run: [sh, -c, "echo out; echo err >&2; exit 3"], exit_code: 3, output_matches: '(?m)^err$'}`, policy.StatusPass,
			`exit code 3 (want 3); output line 2: "err" matches; output "out\nerr\n"`},
		{"exit code defaults to zero", `{run: [sh, -c, "exit 1"]}`, policy.StatusFail, `exit code 1 (want 0); output ""`},
		{"output mismatch", `{run: [sh, -c, "echo PermitRootLogin yes"], output_matches: 'PermitRootLogin no'}`, policy.StatusFail,
			`exit code 0 (want 0); output does not match PermitRootLogin no; output "PermitRootLogin yes\n"`},
		{"no such program", `{run: [/nonexistent/program]}`, policy.StatusError,
			`error: command "/nonexistent/program": fork/exec /nonexistent/program: no such file or directory`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := evaluate(t, env, "{command: "+c.check+"}")
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail {
				t.Errorf("status %s, evidence %+v\nwant %s, %q", r.Status, r.Evidence, c.want, c.detail)
			}
		})
	}
}

// A command that floods its output is killed at the cap, long before its
// timeout.
func TestCommandFloods(t *testing.T) {
	env := commandEnv(t, true)
	start := time.Now()
	r := evaluate(t, env, `{command: {run: [sh, -c, "while :; do echo yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy; done"], timeout: 60s}}`)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
	if r.Status != policy.StatusError || r.Error != `check.command: command "sh" printed more than 65536 bytes and was killed` {
		t.Errorf("status %s, error %q", r.Status, r.Error)
	}
	if d := r.Evidence[0].Detail; !strings.Contains(d, `output "yyyy`) || len(d) > policy.MaxDetailBytes {
		t.Errorf("detail %q", d)
	}
}

// Output right at the cap is fine; one byte more is not.
func TestCommandOutputCap(t *testing.T) {
	env := commandEnv(t, true)
	for _, c := range []struct {
		n       int
		wantErr bool
	}{{1000, false}, {policy.MaxCommandOutput, false}, {policy.MaxCommandOutput + 1, true}} {
		res, err := env.Run(context.Background(), []string{"head", "-c", strconv.Itoa(c.n), "/dev/zero"}, policy.MaxCommandOutput)
		if (err != nil) != c.wantErr || (err != nil && !errors.Is(err, policy.ErrOutputLimit)) {
			t.Errorf("%d bytes: err %v", c.n, err)
		}
		if want := min(c.n, policy.MaxCommandOutput); len(res.Output) != want {
			t.Errorf("%d bytes: kept %d, want %d", c.n, len(res.Output), want)
		}
	}
}
