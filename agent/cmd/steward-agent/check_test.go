package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/policy"
)

// buildAgent builds the steward-agent binary into a temporary directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "steward-agent")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runAgent runs the binary and returns stdout, stderr and the exit code.
func runAgent(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", "", 0
}

func TestCheckCommand(t *testing.T) {
	if data, err := os.ReadFile("/etc/os-release"); err != nil || !strings.Contains(string(data), "\nID=debian\n") {
		t.Fatalf("these expectations hold on the Debian test machine only; /etc/os-release: %v", err)
	}
	bin := buildAgent(t)
	td := filepath.Join("testdata", "check")
	ok, bad := filepath.Join(td, "ok.yaml"), filepath.Join(td, "bad.yaml")

	t.Run("json", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", ok)
		if code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		var report struct {
			Results []policy.Result `json:"results"`
		}
		dec := json.NewDecoder(strings.NewReader(stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&report); err != nil {
			t.Fatalf("decode: %v\n%s", err, stdout)
		}
		want := []struct {
			id     string
			status policy.Status
		}{
			{"bash-installed", policy.StatusPass},
			{"kernel-is-linux", policy.StatusError}, // no allow_commands
			{"no-telnet-server", policy.StatusPass},
			{"os-release-debian", policy.StatusPass},
			{"windows-defender", policy.StatusNotApplicable},
		}
		if len(report.Results) != len(want) {
			t.Fatalf("%d results:\n%s", len(report.Results), stdout)
		}
		for i, w := range want {
			r := report.Results[i]
			if r.PolicyID != w.id || r.Status != w.status || len(r.Evidence) == 0 || r.CheckedAt.IsZero() || r.Duration <= 0 {
				t.Errorf("result %d: %+v, want %s %s", i, r, w.id, w.status)
			}
		}
		if e := report.Results[1].Evidence[0].Detail; !strings.Contains(e, "allow_commands: true") {
			t.Errorf("refused command's evidence does not say why: %q", e)
		}
	})

	t.Run("allow_commands from the config file", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", ok, "--config", filepath.Join(td, "allow.yaml"))
		if code != 0 || !strings.Contains(stdout, `"policy_id": "kernel-is-linux",
      "status": "pass"`) {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})

	t.Run("table", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", ok, "--format", "table")
		if code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		lines := strings.Split(stdout, "\n")
		if len(lines) < 11 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "STATUS") ||
			!strings.HasPrefix(lines[1], "bash-installed     pass            low       bash 5 or later") ||
			!strings.HasPrefix(lines[2], "    check.package: bash ") {
			t.Errorf("table:\n%s", stdout)
		}
		if !strings.Contains(stdout, "windows-defender   not_applicable  critical  Defender runs\n    platforms: host platform linux is not in [windows]\n") {
			t.Errorf("table misses the not_applicable row with its reason:\n%s", stdout)
		}
	})

	t.Run("directory and file together", func(t *testing.T) {
		dir := t.TempDir()
		extra := "policies:\n  - {id: extra, title: E, severity: info, check: {expr: 'inventory.os.platform == \"debian\"'}}\n"
		if err := os.WriteFile(filepath.Join(dir, "extra.yml"), []byte(extra), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, _, code := runAgent(t, bin, "check", "--policy", dir, "--policy", ok)
		// An expr leaf needs the server: the policy is listed apart,
		// neither passed nor failed.
		if code != 0 || strings.Count(stdout, `"policy_id"`) != 6 || !strings.Contains(stdout, `"needs_server": [
    {
      "policy_id": "extra",
      "status": "needs_server"`) {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
		// It does not trip --fail-on, and the table lists it apart.
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", dir, "--fail-on", "info", "--format", "table")
		if code != 0 || !strings.Contains(stdout, "\nNeeds the server (expr) (1, not counted as pass or fail):\nextra ") {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})

	t.Run("root file system", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=alpine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", ok, "--root", root)
		if code != 0 || !strings.Contains(stdout, `"policy_id": "os-release-debian",
      "status": "fail"`) || !strings.Contains(stdout, `no line matches (?m)^ID=debian$ in /etc/os-release`) {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})

	rejects := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"invalid policy file", []string{"--policy", ok, "--policy", bad}, []string{
			"invalid policies, nothing evaluated",
			bad + ":7: policy broken: check.all[0].file.matches: invalid regular expression: error parsing regexp: missing closing ): `(unclosed`",
			// The agent links no CEL: it refuses an empty expression, the
			// server (and stewardctl) one that does not compile.
			bad + ":8: policy broken: check.all[1].expr: empty expression",
		}},
		{"duplicate ids across paths", []string{"--policy", ok, "--policy", ok}, []string{
			ok + ":3: policy os-release-debian: id: duplicate id (first defined at " + ok + ":3)",
			ok + ":19: policy windows-defender: id: duplicate id (first defined at " + ok + ":19)",
		}},
		{"missing policy", []string{"--policy", filepath.Join(td, "nope.yaml")}, []string{"nope.yaml: stat "}},
		{"no --policy", nil, []string{"--policy PATH is required"}},
		{"bad format", []string{"--policy", ok, "--format", "xml"}, []string{`--format "xml": want json, table, junit, html`}},
		{"bad config", []string{"--policy", ok, "--config", filepath.Join(td, "typo.yaml")}, []string{"field allow_command not found"}},
		{"bad root", []string{"--policy", ok, "--root", filepath.Join(td, "nope")}, []string{"is not a directory"}},
		{"stray argument", []string{"--policy", ok, "extra"}, []string{`unexpected argument "extra"`}},
	}
	for _, c := range rejects {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runAgent(t, bin, append([]string{"check"}, c.args...)...)
			if code != 2 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing evaluated", code, stdout)
			}
			for _, want := range c.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestCheckTableAndSyntaxErrors: `check --format table` lists every
// failing alternative of an any, and a YAML indentation error is reported
// at its own line, not at the start of the enclosing list.
func TestCheckTableAndSyntaxErrors(t *testing.T) {
	bin := buildAgent(t)
	dir := t.TempDir()
	anyFile := filepath.Join(dir, "any.yaml")
	if err := os.WriteFile(anyFile, []byte(`policies:
  - id: one-of
    title: One of two files exists
    severity: low
    check:
      any:
        - file: {path: /nonexistent/steward-first, exists: true}
        - file: {path: /nonexistent/steward-second, exists: true}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runAgent(t, bin, "check", "--policy", anyFile, "--format", "table")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"check.any[0].file: ", "/nonexistent/steward-first", "check.any[1].file: ", "/nonexistent/steward-second"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}

	indent := filepath.Join(dir, "indent.yaml")
	if err := os.WriteFile(indent, []byte("policies:\n  - id: a\n    title: A\n   severity: low\n    check:\n      expr: 'true'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runAgent(t, bin, "check", "--policy", indent)
	if want := indent + ":4: invalid YAML: "; code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want a problem starting %q", code, stderr, want)
	}
}
