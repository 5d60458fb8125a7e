package ctl_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/steward-project/steward/server/internal/ctl"
)

// binary builds stewardctl once per test run: help and error output are
// checked as a user sees them, through the real main.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// TestMain removes the binary's directory after the run, so the tests
// leave nothing in the temporary directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func stewardctlBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stewardctl-help-test")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "stewardctl")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", binPath, "github.com/steward-project/steward/server/cmd/stewardctl")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build stewardctl: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// runBinary runs the built stewardctl with an environment free of
// STEWARD_* variables.
func runBinary(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(stewardctlBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// groups are the first words of the two-word commands.
func groups() map[string][]string {
	out := map[string][]string{}
	for _, n := range ctl.CommandNames() {
		if first, _, ok := strings.Cut(n, " "); ok {
			out[first] = append(out[first], n)
		}
	}
	return out
}

func TestHelpGolden(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		golden string // of stdout and stderr, in that order
	}{
		{"group --help", []string{"hosts", "--help"}, ctl.ExitOK, "help_hosts.txt"},
		{"group -h", []string{"tokens", "-h"}, ctl.ExitOK, "help_tokens.txt"},
		{"help group", []string{"help", "tokens"}, ctl.ExitOK, "help_tokens.txt"},
		{"group help", []string{"tokens", "help"}, ctl.ExitOK, "help_tokens.txt"},
		{"command --help", []string{"tokens", "create", "--help"}, ctl.ExitOK, "help_tokens_create.txt"},
		{"help command", []string{"help", "tokens", "create"}, ctl.ExitOK, "help_tokens_create.txt"},
		{"group alone", []string{"tokens"}, ctl.ExitUsage, "err_tokens_alone.txt"},
		{"subcommand typo", []string{"tokens", "lst"}, ctl.ExitUsage, "err_tokens_typo.txt"},
		{"unknown subcommand", []string{"tokens", "destroy"}, ctl.ExitUsage, "err_tokens_unknown.txt"},
		{"group typo", []string{"tokns", "list"}, ctl.ExitUsage, "err_group_typo.txt"},
		{"unknown command", []string{"frobnicate"}, ctl.ExitUsage, "err_unknown.txt"},
		{"missing argument", []string{"tokens", "create"}, ctl.ExitUsage, "err_tokens_create_args.txt"},
		{"extra argument", []string{"tokens", "list", "extra"}, ctl.ExitUsage, "err_tokens_list_args.txt"},
		{"bad flag", []string{"tokens", "list", "--colour"}, ctl.ExitUsage, "err_tokens_list_flag.txt"},
		{"flag without value", []string{"tokens", "create", "ci", "--role"}, ctl.ExitUsage, "err_tokens_create_flag_value.txt"},
		{"bad flag value", []string{"tokens", "list", "--revoked=maybe"}, ctl.ExitUsage, "err_tokens_list_flag_value.txt"},
		{"bad output format", []string{"tokens", "list", "-o", "yaml"}, ctl.ExitUsage, "err_tokens_list_output.txt"},
		{"value checked by the command", []string{"hosts", "list", "--limit", "0", "--token", "t"}, ctl.ExitUsage, "err_hosts_list_limit.txt"},
		{"help typo", []string{"help", "tokns"}, ctl.ExitUsage, "err_help_typo.txt"},
		{"completion shell", []string{"completion", "tcsh"}, ctl.ExitUsage, "err_completion_shell.txt"},
		{"client version", []string{"version", "--client"}, ctl.ExitOK, "version_client.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", r.code, tc.code, r.stdout, r.stderr)
			}
			got := "# stdout\n" + r.stdout + "# stderr\n" + r.stderr
			// The Go release varies with the toolchain.
			got = regexp.MustCompile(`\(go[0-9][^)]*\)`).ReplaceAllString(got, "(GOVERSION)")
			golden(t, tc.golden, got)
			if tc.code == ctl.ExitUsage {
				checkOneLineThenUsage(t, tc.args, r.stderr)
			}
		})
	}
}

// checkOneLineThenUsage: an argument mistake is one line, a blank line,
// then the usage of what was mistyped only, never the whole command list.
func checkOneLineThenUsage(t *testing.T, args []string, stderr string) {
	t.Helper()
	lines := strings.Split(stderr, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "stewardctl: ") || lines[1] != "" || strings.HasPrefix(lines[2], "stewardctl: ") {
		t.Fatalf("want one error line, a blank line, then usage; got:\n%s", stderr)
	}
	// Nothing outside the group is listed.
	word := args[0]
	if word == "help" && len(args) > 1 {
		word = args[1]
	}
	for g, names := range groups() {
		if g == word {
			continue
		}
		for _, n := range names {
			if strings.Contains(stderr, "  "+n+" ") || strings.Contains(stderr, "  "+n+"\n") {
				t.Errorf("usage for %q lists %q:\n%s", args, n, stderr)
			}
		}
	}
}

func TestEveryGroupHelpListsItsCommands(t *testing.T) {
	for g, names := range groups() {
		for _, args := range [][]string{{g, "--help"}, {"help", g}, {g, "-h"}, {g}} {
			r := runBinary(t, args...)
			out := r.stdout + r.stderr
			for _, n := range names {
				if !strings.Contains(out, "  "+n) {
					t.Errorf("stewardctl %s: %q missing from\n%s", strings.Join(args, " "), n, out)
				}
			}
		}
	}
	// And every command's own help names its flags.
	for _, n := range ctl.CommandNames() {
		r := runBinary(t, append(strings.Fields(n), "--help")...)
		if r.code != ctl.ExitOK || !strings.HasPrefix(r.stdout, "Usage: stewardctl "+n) {
			t.Errorf("%s --help: exit %d, stdout %.80q", n, r.code, r.stdout)
		}
		for _, f := range ctl.CommandFlags(n) {
			if !strings.Contains(r.stdout, "--"+f+" ") {
				t.Errorf("%s --help lacks --%s", n, f)
			}
		}
	}
}

func TestTypoSuggestions(t *testing.T) {
	cases := []struct{ args, want string }{
		{"hosts lst", `unknown command "hosts lst"; did you mean "hosts list"?`},
		{"hosts shwo 1", `unknown command "hosts shwo"; did you mean "hosts show"?`},
		{"hosts delte 1", `unknown command "hosts delte"; did you mean "hosts delete"?`},
		{"hots list", `unknown command "hots list"; did you mean "hosts list"?`},
		{"hots", `unknown command "hots"; did you mean "hosts"?`},
		{"polices list", `unknown command "polices list"; did you mean "policies list"?`},
		{"policies aply", `unknown command "policies aply"; did you mean "policies apply"?`},
		{"enroll-secret list", `unknown command "enroll-secret list"; did you mean "enroll-secrets list"?`},
		{"complience", `unknown command "complience"; did you mean "compliance"?`},
		{"alerts ak 1", `unknown command "alerts ak"; did you mean "alerts ack"?`},
		{"silences expier 1", `unknown command "silences expier"; did you mean "silences expire"?`},
		{"verison", `unknown command "verison"; did you mean "version"?`},
		{"completon bash", `unknown command "completon"; did you mean "completion"?`},
		{"hepl", `unknown command "hepl"; did you mean "help"?`},
		{"frobnicate", `unknown command "frobnicate"`},
		{"hosts destroy", `unknown command "hosts destroy"`},
	}
	for _, tc := range cases {
		t.Run(tc.args, func(t *testing.T) {
			r := run(t, nil, strings.Fields(tc.args)...)
			first, _, _ := strings.Cut(r.stderr, "\n")
			want := "stewardctl: " + tc.want
			if r.code != ctl.ExitUsage || !strings.HasPrefix(first, want) {
				t.Fatalf("exit %d, first line %q; want exit 2 and %q", r.code, first, want)
			}
			if !strings.Contains(tc.want, "did you mean") && strings.Contains(first, "did you mean") {
				t.Errorf("suggestion for a word close to nothing: %q", first)
			}
		})
	}
	if got := ctl.Suggest("shwo", []string{"list", "show"}); got != "show" {
		t.Errorf("suggest(shwo) = %q", got)
	}
	for _, d := range []struct {
		a, b string
		n    int
	}{{"list", "lst", 1}, {"show", "shwo", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"hosts", "hosts", 0}} {
		if got := ctl.EditDistance(d.a, d.b); got != d.n {
			t.Errorf("editDistance(%q, %q) = %d, want %d", d.a, d.b, got, d.n)
		}
	}
}
