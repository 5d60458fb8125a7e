package ctl_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/ctl"
)

func TestServerErrors(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	cases := []struct {
		name       string
		env        map[string]string
		args       []string
		wantStderr string
	}{
		{
			name:       "wrong token",
			args:       []string{"hosts", "list", "--server", ts.URL, "--token", "wrong"},
			wantStderr: "stewardctl: the server refused the token (401): check --token or STEWARD_TOKEN\n",
		},
		{
			name:       "wrong token from the environment",
			env:        map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": "wrong"},
			args:       []string{"software", "search", "openssl"},
			wantStderr: "stewardctl: the server refused the token (401): check --token or STEWARD_TOKEN\n",
		},
		{
			name:       "unknown host",
			args:       []string{"--server", ts.URL, "--token", token, "hosts", "show", "99"},
			wantStderr: "stewardctl: host 99 not found (404 from GET /api/v1/hosts/99)\n",
		},
		{
			name:       "changes of an unknown host",
			args:       []string{"--server", ts.URL, "--token", token, "hosts", "changes", "99"},
			wantStderr: "stewardctl: host 99 not found (404 from GET /api/v1/hosts/99/changes)\n",
		},
		{
			name: "unknown change kind",
			args: []string{"--server", ts.URL, "--token", token, "hosts", "changes", "1", "--kind", "pkg_added"},
			wantStderr: "stewardctl: unknown change kind \"pkg_added\"; kinds are " + strings.Join(changes.Kinds, ", ") +
				" (400 from GET /api/v1/hosts/1/changes)\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, tc.args...)
			if r.code != ctl.ExitError || r.stderr != tc.wantStderr || r.stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit 1, stderr %q", r.code, r.stderr, r.stdout, tc.wantStderr)
			}
		})
	}
}

func TestConnectionRefusedNamesTheURL(t *testing.T) {
	// A port that was just free and is closed again refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()

	r := run(t, map[string]string{"STEWARD_TOKEN": token}, "hosts", "list", "--server", url)
	if r.code != ctl.ExitError {
		t.Fatalf("exit %d, want 1", r.code)
	}
	for _, want := range []string{"cannot reach the server at " + url, "connection refused", "--server"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
}

func TestTokenSources(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	dir := t.TempDir()
	good := filepath.Join(dir, "admin-token")
	bad := filepath.Join(dir, "bad-token")
	empty := filepath.Join(dir, "empty")
	for path, content := range map[string]string{good: token + "\n", bad: "nope\n", empty: "\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"token file flag", nil, []string{"--token-file", good}, ctl.ExitOK},
		{"token file from env", map[string]string{"STEWARD_TOKEN_FILE": good}, nil, ctl.ExitOK},
		{"token flag beats env token file", map[string]string{"STEWARD_TOKEN_FILE": bad}, []string{"--token", token}, ctl.ExitOK},
		{"token file flag beats env token", map[string]string{"STEWARD_TOKEN": "nope"}, []string{"--token-file", good}, ctl.ExitOK},
		{"env token beats env token file", map[string]string{"STEWARD_TOKEN": token, "STEWARD_TOKEN_FILE": bad}, nil, ctl.ExitOK},
		{"bad token file", nil, []string{"--token-file", bad}, ctl.ExitError},
		{"missing token file", nil, []string{"--token-file", filepath.Join(dir, "absent")}, ctl.ExitError},
		{"empty token file", nil, []string{"--token-file", empty}, ctl.ExitError},
		{"both flags", nil, []string{"--token", token, "--token-file", good}, ctl.ExitUsage},
		{"no token at all", nil, nil, ctl.ExitUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"hosts", "list", "--server", ts.URL}, tc.args...)
			r := run(t, tc.env, args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	cases := []struct {
		name       string
		args       []string
		code       int
		wantOut    string // substring of stdout
		wantErr    string // substring of stderr
		wantNoCall bool
	}{
		{"no arguments", nil, ctl.ExitUsage, "", "no command given", true},
		{"help", []string{"help"}, ctl.ExitOK, "Usage: stewardctl", "", true},
		{"help flag", []string{"-h"}, ctl.ExitOK, "Commands:", "", true},
		{"help for a command", []string{"help", "software", "search"}, ctl.ExitOK, "--version", "", true},
		{"help for a group", []string{"help", "hosts"}, ctl.ExitOK, "hosts show ID", "", true},
		{"help for nothing", []string{"help", "bogus"}, ctl.ExitUsage, "", `no help for "bogus"`, true},
		{"command -h", []string{"hosts", "list", "-h"}, ctl.ExitOK, "--limit", "", true},
		{"unknown command", []string{"frobnicate"}, ctl.ExitUsage, "", `unknown command "frobnicate"`, true},
		{"unknown subcommand", []string{"hosts", "destroy"}, ctl.ExitUsage, "", `unknown command "hosts destroy"`, true},
		{"group alone", []string{"hosts"}, ctl.ExitUsage, "", "hosts needs a subcommand", true},
		{"missing ID", []string{"hosts", "show"}, ctl.ExitUsage, "", "takes 1 argument", true},
		{"extra argument", []string{"hosts", "list", "extra"}, ctl.ExitUsage, "", "takes 0 argument", true},
		{"ID not a number", []string{"hosts", "show", "web-1"}, ctl.ExitUsage, "", "not a positive integer", true},
		{"unknown flag", []string{"hosts", "list", "--colour"}, ctl.ExitUsage, "", "flag provided but not defined", true},
		{"flag of another command", []string{"hosts", "list", "--version", "1"}, ctl.ExitUsage, "", "flag provided but not defined", true},
		{"bad output format", []string{"-o", "yaml", "hosts", "list"}, ctl.ExitUsage, "", `output format "yaml"`, true},
		{"limit out of range", []string{"hosts", "list", "--limit", "0"}, ctl.ExitUsage, "", "--limit", true},
		{"limit not a number", []string{"hosts", "list", "--limit", "many"}, ctl.ExitUsage, "", "invalid value", true},
		{"missing package name", []string{"software", "search"}, ctl.ExitUsage, "", "takes 1 argument", true},
		{"bad server URL", []string{"--server", "ftp://127.0.0.1:8080", "hosts", "list"}, ctl.ExitUsage, "", "server URL", true},
		{"changes since not a time", []string{"hosts", "changes", "1", "--since", "yesterday"}, ctl.ExitUsage, "", `--since: "yesterday" is neither`, true},
		{"changes until negative", []string{"hosts", "changes", "1", "--until", "-5h"}, ctl.ExitUsage, "", "--until", true},
		{"changes ID not a number", []string{"hosts", "changes", "web-1"}, ctl.ExitUsage, "", "not a positive integer", true},
		{"changes limit", []string{"hosts", "changes", "1", "--limit", "1001"}, ctl.ExitUsage, "", "--limit", true},
		{"help for changes", []string{"help", "hosts", "changes"}, ctl.ExitOK, "--kind", "", true},
		{"flags after double dash are arguments", []string{"software", "search", "--", "-o"}, ctl.ExitOK, "HOST_ID", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.requests.Load()
			r := run(t, env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.wantOut) || !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("stdout %q\nstderr %q\nwant stdout with %q, stderr with %q", r.stdout, r.stderr, tc.wantOut, tc.wantErr)
			}
			if tc.code == ctl.ExitUsage && !strings.Contains(r.stderr, "Usage:") && !strings.Contains(r.stderr, "Commands:") &&
				!strings.Contains(r.stderr, `Run "stewardctl help" for the commands.`) {
				t.Errorf("usage error without usage: %q", r.stderr)
			}
			if calls := ts.requests.Load() - before; tc.wantNoCall && calls != 0 {
				t.Errorf("%d requests sent for a command line that should not reach the server", calls)
			}
		})
	}
}

func TestGlobalFlagsAnywhere(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	cases := [][]string{
		{"--server", ts.URL, "--token", token, "-o", "json", "hosts", "list"},
		{"hosts", "list", "--server", ts.URL, "--token", token, "-o", "json"},
		{"--server", ts.URL, "hosts", "list", "-o=json", "--token=" + token},
		{"-server=" + ts.URL, "hosts", "list", "--limit", "2", "--token", token, "--output", "json"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := run(t, map[string]string{"STEWARD_SERVER": "http://127.0.0.1:1"}, args...)
			if r.code != ctl.ExitOK || !strings.HasPrefix(r.stdout, "{\n  \"hosts\": [") {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}
