package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/ctl"
)

func TestVersion(t *testing.T) {
	ts := newTestServer(t)
	runV := func(env map[string]string, args ...string) result {
		var stdout, stderr bytes.Buffer
		code := ctl.Run(context.Background(), append([]string{"version"}, args...), ctl.Env{
			Stdout: &stdout, Stderr: &stderr, Version: "v1.2.3",
			Getenv: func(k string) string { return env[k] },
			Now:    func() time.Time { return now },
		})
		return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}

	r := runV(env)
	if r.code != ctl.ExitOK || !strings.HasPrefix(r.stdout, "Client:  v1.2.3 (go") ||
		!strings.Contains(r.stdout, "Server:  dev (go") || !strings.Contains(r.stdout, " at "+ts.URL) {
		t.Errorf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	r = runV(env, "-o", "json")
	var v struct {
		Client, Server struct{ Version string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Client.Version != "v1.2.3" || v.Server.Version != "dev" {
		t.Errorf("json: %v %s", err, r.stdout)
	}

	before := ts.requests.Load()
	if r := runV(nil, "--client"); r.code != ctl.ExitOK || r.stdout == "" || strings.Contains(r.stdout, "Server") || ts.requests.Load() != before {
		t.Errorf("--client: exit %d, stdout %q", r.code, r.stdout)
	}

	// Unreachable: the client's version still prints, the exit code is 1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r = runV(map[string]string{"STEWARD_TOKEN": token}, "--server", addr)
	if r.code != ctl.ExitError || !strings.Contains(r.stdout, "Client:  v1.2.3") || !strings.Contains(r.stdout, "Server:  unreachable at http://"+addr) ||
		!strings.Contains(r.stderr, "cannot reach the server") {
		t.Errorf("unreachable: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	// No token: the same, with the reason.
	r = runV(map[string]string{"STEWARD_SERVER": ts.URL})
	if r.code != ctl.ExitError || !strings.Contains(r.stdout, "Client:  v1.2.3") || !strings.Contains(r.stderr, "no admin token") {
		t.Errorf("no token: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestServerWithoutScheme(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	hostPort := strings.TrimPrefix(ts.URL, "http://")
	r := run(t, nil, "--server", hostPort, "--token", token, "hosts", "list")
	if r.code != ctl.ExitOK || !strings.Contains(r.stdout, "web-1") {
		t.Fatalf("--server %s: exit %d, stderr %q", hostPort, r.code, r.stderr)
	}
	for in, want := range map[string]string{
		"127.0.0.1:8080":           "http://127.0.0.1:8080",
		"localhost:8080":           "http://localhost:8080",
		"[::1]:8080":               "http://[::1]:8080",
		"127.0.0.1":                "http://127.0.0.1",
		"steward.example.com":      "https://steward.example.com",
		"10.0.0.5:8080":            "https://10.0.0.5:8080",
		"steward.example.com/base": "https://steward.example.com/base",
		"http://10.0.0.5:8080":     "http://10.0.0.5:8080",
		"https://127.0.0.1:8443":   "https://127.0.0.1:8443",
	} {
		if got := ctl.WithScheme(in); got != want {
			t.Errorf("withScheme(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRefusedTokenNamesItsFile(t *testing.T) {
	ts := newTestServer(t)
	bad := filepath.Join(t.TempDir(), "old-token")
	if err := os.WriteFile(bad, []byte("nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flag", nil, []string{"--token-file", bad}, bad + " (--token-file)"},
		{"environment", map[string]string{"STEWARD_TOKEN_FILE": bad}, nil, bad + " (STEWARD_TOKEN_FILE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, append([]string{"--server", ts.URL, "tokens", "list"}, tc.args...)...)
			want := "stewardctl: the server refused the token read from " + tc.want + " (401)"
			if r.code != ctl.ExitError || !strings.HasPrefix(r.stderr, want) {
				t.Errorf("exit %d, stderr %q; want %q", r.code, r.stderr, want)
			}
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			r := run(t, nil, "completion", shell)
			if r.code != ctl.ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			for _, n := range ctl.CommandNames() {
				for _, w := range strings.Fields(n) {
					if !strings.Contains(r.stdout, w) {
						t.Errorf("%s script lacks %q (of %q)", shell, w, n)
					}
				}
				for _, f := range ctl.CommandFlags(n) {
					if !strings.Contains(r.stdout, f) {
						t.Errorf("%s script lacks flag %s of %q", shell, f, n)
					}
				}
			}
			path := filepath.Join(t.TempDir(), "stewardctl."+shell)
			if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := exec.LookPath(shell); err != nil {
				if shell == "bash" {
					t.Fatal("bash not found")
				}
				t.Skipf("%s not installed", shell)
			}
			if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil {
				t.Fatalf("%s -n rejects the script: %v\n%s", shell, err, out)
			}
		})
	}
}

// TestBashCompletionCompletes runs the bash function as bash would.
func TestBashCompletionCompletes(t *testing.T) {
	r := run(t, nil, "completion", "bash")
	path := filepath.Join(t.TempDir(), "stewardctl.bash")
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]string{
		"stewardctl ho":                       "hosts",
		"stewardctl hosts l":                  "list label",
		"stewardctl --server x hosts sh":      "show",
		"stewardctl hosts list --li":          "--limit",
		"stewardctl tokens create --r":        "--role",
		"stewardctl -o ":                      "table json csv",
		"stewardctl completion ":              "bash zsh fish",
		"stewardctl help poli":                "policies",
		"stewardctl hosts list --token-f":     "--token-file",
		"stewardctl policies results 3 --st":  "--status",
		"stewardctl tokens list -o json --re": "--revoked",
	} {
		words := strings.Split(line, " ")
		script := ". " + path + "\nCOMP_WORDS=(" + line + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) +
			"\n_stewardctl\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command("bash", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%q completes to %q, want %q", line, got, want)
		}
	}
}

// TestFishCompletionCompletes asks fish itself what it would offer.
func TestFishCompletionCompletes(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish not installed")
	}
	r := run(t, nil, "completion", "fish")
	path := filepath.Join(t.TempDir(), "stewardctl.fish")
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]string{
		"stewardctl po":             "policies",
		"stewardctl hosts sh":       "show",
		"stewardctl hosts list --l": "--limit",
		"stewardctl completion b":   "bash",
	} {
		out, err := exec.Command("fish", "-c", "source "+path+"; complete -C'"+line+"'").CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", line, err, out)
		}
		first, _, _ := strings.Cut(strings.SplitN(string(out), "\n", 2)[0], "\t")
		if first != want {
			t.Errorf("%q: fish offers %q, want %q first", line, out, want)
		}
	}
}
