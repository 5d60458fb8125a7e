//go:build !windows

// The install tests check Unix file modes (0600); Windows files take
// their access from the directory ACL instead.

package service

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/agent/internal/config"
	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/installers/systemd"
	svc "github.com/steward-project/steward/shared/service"
)

// installDirs is a configuration directory and a state dir for one test.
type installDirs struct {
	config, secret, state string
}

func newInstallDirs(t *testing.T) installDirs {
	dir := t.TempDir()
	return installDirs{
		config: filepath.Join(dir, "etc", "agent.yaml"),
		secret: filepath.Join(dir, "etc", "enroll-secret"),
		state:  filepath.Join(dir, "state"),
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInstallWritesConfigAndSecretAndRegisters(t *testing.T) {
	d := newInstallDirs(t)
	h := newHarness(t, svc.SysV)
	code := h.run("install", "--config", d.config, "--server", "https://steward.example.com:8443",
		"--enroll-secret", "s3cret-value", "--state-dir", d.state, "--log-level", "debug",
		"--inventory-interval", "15m", "--heartbeat-interval", "45s")
	if code != svc.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
	cfg, err := config.LoadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{Server: "https://steward.example.com:8443", EnrollSecretFile: d.secret, StateDir: d.state,
		LogLevel: "debug", InventoryInterval: 15 * time.Minute, HeartbeatInterval: 45 * time.Second, File: d.config}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config file holds\n%+v\nwant\n%+v", cfg, want)
	}
	if text := read(t, d.config); strings.Contains(text, "s3cret-value") {
		t.Errorf("the secret is inline in the config file:\n%s", text)
	}
	if got := read(t, d.secret); got != "s3cret-value\n" {
		t.Errorf("secret file holds %q", got)
	}
	for _, f := range []string{d.config, d.secret} {
		if m := mode(t, f); m != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, m)
		}
	}
	if fi, err := os.Stat(d.state); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v %v", fi, err)
	}
	if !slices.Equal(h.m.Mutating(), []string{"install"}) {
		t.Errorf("manager calls %v, want one install", h.m.Calls)
	}
	wantArgs := []string{"run", "--config", d.config, "--log-file", "/var/log/steward-agent.log"}
	if !slices.Equal(h.m.Spec.Arguments, wantArgs) {
		t.Errorf("registered arguments %q, want %q", h.m.Spec.Arguments, wantArgs)
	}
	if !strings.Contains(h.stdout.String(), "installed service steward-agent (unix-systemv)") {
		t.Errorf("install did not say it registered the service")
	}
}

func TestInstallTwiceChangesNothing(t *testing.T) {
	d := newInstallDirs(t)
	h := newHarness(t, svc.Systemd)
	args := []string{"install", "--config", d.config, "--server", "http://10.0.0.5:8080", "--insecure-http", "--enroll-secret", "abc", "--state-dir", d.state}
	if code := h.run(args[0], args[1:]...); code != svc.ExitOK {
		t.Fatalf("first install: exit %d", code)
	}
	// Set the clock of both files back: a rewrite would move it.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, f := range []string{d.config, d.secret} {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	before := read(t, d.config)
	h.m.Calls = nil
	if code := h.run(args[0], args[1:]...); code != svc.ExitOK {
		t.Fatalf("second install: exit %d", code)
	}
	for _, f := range []string{d.config, d.secret} {
		if fi, err := os.Stat(f); err != nil || !fi.ModTime().Equal(old) {
			t.Errorf("%s was rewritten: %v %v", f, fi.ModTime(), err)
		}
	}
	if read(t, d.config) != before {
		t.Error("config file changed")
	}
	if len(h.m.Mutating()) != 0 {
		t.Errorf("second install called the manager: %v", h.m.Calls)
	}
	out := h.stdout.String()
	for _, want := range []string{d.config + " unchanged", d.secret + " unchanged", "already installed"} {
		if !strings.Contains(out, want) {
			t.Errorf("second install does not say %q", want)
		}
	}
}

// Packages drop their own agent.yaml and call `steward-agent install`
// with no flags: the file stays as it is, comments and all, but gets the
// mode of a file holding a secret.
func TestInstallKeepsExistingConfig(t *testing.T) {
	d := newInstallDirs(t)
	os.MkdirAll(filepath.Dir(d.config), 0o755)
	body := "# dropped by the package\nserver: https://steward.internal  # the fleet's server\n" +
		"enroll_secret: inline-secret\nstate_dir: " + d.state + "\nallow_commands: true\n"
	if err := os.WriteFile(d.config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, svc.SysV)
	if code := h.run("install", "--config", d.config); code != svc.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
	if got := read(t, d.config); got != body {
		t.Errorf("config rewritten:\n%s", got)
	}
	if m := mode(t, d.config); m != 0o600 {
		t.Errorf("config mode %v, want 0600", m)
	}
	if !strings.Contains(h.stdout.String(), "readable by its owner only") {
		t.Error("install did not say it tightened the mode")
	}
	if _, err := os.Stat(d.secret); err == nil {
		t.Error("install wrote a secret file although no secret was given")
	}
}

// A flag changes its key only; the other keys and the comments stay.
func TestInstallUpdatesOnlyGivenKeys(t *testing.T) {
	d := newInstallDirs(t)
	os.MkdirAll(filepath.Dir(d.config), 0o755)
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("from-file\n"), 0o640)
	body := "# keep me\nserver: https://old.example.com\nenroll_secret: inline\nstate_dir: " + d.state + "\nallow_commands: true\n"
	os.WriteFile(d.config, []byte(body), 0o600)
	h := newHarness(t, svc.SysV)
	if code := h.run("install", "--config", d.config, "--server", "https://new.example.com", "--enroll-secret-file", secretFile); code != svc.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
	text := read(t, d.config)
	cfg, err := config.LoadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "https://new.example.com" || cfg.EnrollSecret != "" || cfg.EnrollSecretFile != secretFile ||
		!cfg.AllowCommands || cfg.StateDir != d.state || !strings.Contains(text, "# keep me") {
		t.Errorf("config after install:\n%s", text)
	}
	if m := mode(t, secretFile); m != 0o600 {
		t.Errorf("given secret file left with mode %v", m)
	}
}

func TestInstallRefusesWithoutServerOrSecret(t *testing.T) {
	d := newInstallDirs(t)
	cases := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"nothing", nil, []string{"a server URL", "an enroll secret"}},
		{"no secret", []string{"--server", "http://x:8080"}, []string{"an enroll secret (none configured)"}},
		{"no server", []string{"--enroll-secret", "s"}, []string{"a server URL"}},
		{"missing secret file", []string{"--server", "http://x:8080", "--enroll-secret-file", filepath.Join(d.state, "nope")},
			[]string{"an enroll secret (enroll secret file: open"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, svc.SysV)
			args := append([]string{"--config", d.config, "--state-dir", d.state}, c.args...)
			if code := h.run("install", args...); code != svc.ExitUsage {
				t.Errorf("exit %d, want %d", code, svc.ExitUsage)
			}
			for _, w := range c.want {
				if !strings.Contains(h.stderr.String(), w) {
					t.Errorf("stderr does not name %q", w)
				}
			}
			if _, err := os.Stat(d.config); err == nil {
				t.Error("a config file was written")
			}
			if len(h.m.Calls) != 0 {
				t.Errorf("manager called: %v", h.m.Calls)
			}
		})
	}
}

// Plain http:// to another machine is refused unless --insecure-http is
// given, which install writes to the file for run to read.
func TestInstallInsecureHTTP(t *testing.T) {
	d := newInstallDirs(t)
	h := newHarness(t, svc.Systemd)
	args := []string{"--config", d.config, "--server", "http://10.0.0.5:8080", "--enroll-secret", "abc", "--state-dir", d.state}
	if code := h.run("install", args...); code != svc.ExitUsage || !strings.Contains(h.stderr.String(), "insecure_http: true") {
		t.Fatalf("install to plain http: exit %d, stderr:\n%s", code, h.stderr.String())
	}
	if _, err := os.Stat(d.config); err == nil {
		t.Error("a refused install wrote the config file")
	}
	if code := h.run("install", append(args, "--insecure-http")...); code != svc.ExitOK {
		t.Fatalf("install --insecure-http: exit %d\n%s", code, h.stderr.String())
	}
	cfg, err := config.LoadFile(d.config)
	if err != nil || !cfg.InsecureHTTP {
		t.Fatalf("config after install --insecure-http: insecure_http %v, %v\n%s", cfg.InsecureHTTP, err, read(t, d.config))
	}
	if _, err := config.Load([]string{"--config", d.config}, io.Discard); err != nil {
		t.Errorf("run's config load refuses what install wrote: %v", err)
	}
}

// An enrolled agent (a node key in its state dir) needs no secret.
func TestInstallEnrolledAgentNeedsNoSecret(t *testing.T) {
	d := newInstallDirs(t)
	os.MkdirAll(d.state, 0o700)
	os.WriteFile(filepath.Join(d.state, state.NodeKeyFile), []byte("00ff\n"), 0o600)
	h := newHarness(t, svc.SysV)
	if code := h.run("install", "--config", d.config, "--server", "http://127.0.0.1:8080", "--state-dir", d.state); code != svc.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
}

func TestInstallBadInput(t *testing.T) {
	d := newInstallDirs(t)
	badPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(badPEM, []byte("not a certificate\n"), 0o644)
	os.MkdirAll(filepath.Dir(d.config), 0o755)
	typo := filepath.Join(filepath.Dir(d.config), "typo.yaml")
	os.WriteFile(typo, []byte("sever: http://x\n"), 0o600)
	base := []string{"--config", d.config, "--state-dir", d.state, "--enroll-secret", "s"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad url", append([]string{"--server", "steward.example.com"}, base...), "want http(s)://host"},
		{"bad level", append([]string{"--server", "http://x", "--log-level", "loud"}, base...), "log-level"},
		{"bad ca file", append([]string{"--server", "https://x", "--ca-file", badPEM}, base...), "no PEM certificate"},
		{"unknown manager", append([]string{"--server", "http://x", "--service-manager", "upstart"}, base...), "unknown service manager"},
		{"both secrets", append([]string{"--server", "http://x", "--enroll-secret-file", badPEM}, base...), "not both"},
		{"stray argument", append([]string{"--server", "http://x", "now"}, base...), "unexpected argument"},
		{"unknown flag", append([]string{"--sever", "http://x"}, base...), "flag provided but not defined"},
		{"bad existing config", []string{"--config", typo, "--server", "http://x", "--enroll-secret", "s"}, "field sever not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, svc.SysV)
			if code := h.run("install", c.args...); code != svc.ExitUsage {
				t.Errorf("exit %d, want %d", code, svc.ExitUsage)
			}
			if !strings.Contains(h.stderr.String(), c.want) {
				t.Errorf("stderr does not say %q", c.want)
			}
			if _, err := os.Stat(d.config); err == nil {
				t.Error("a config file was written")
			}
			if len(h.m.Mutating()) != 0 {
				t.Errorf("manager changed: %v", h.m.Calls)
			}
		})
	}
}

// install needs root like the other commands (shared/service tests
// those), and as a user writes nothing.
func TestInstallNeedsAdmin(t *testing.T) {
	d := newInstallDirs(t)
	h := newHarness(t, svc.SysV)
	h.admin = false
	code := h.run("install", "--config", d.config, "--server", "http://x", "--enroll-secret", "s")
	if code != svc.ExitFailure || !strings.Contains(h.stderr.String(), "steward-agent install: needs root") {
		t.Errorf("install as a user: exit %d, stderr %q", code, h.stderr.String())
	}
	if len(h.m.Calls) != 0 {
		t.Errorf("install as a user called the manager: %v", h.m.Calls)
	}
	if _, err := os.Stat(d.config); err == nil {
		t.Error("install as a user wrote the config")
	}
}

// The generic commands speak of steward-agent, and a failed start says
// where the agent logs under each manager.
func TestServiceCommandsNameTheAgent(t *testing.T) {
	h := newHarness(t, svc.SysV)
	if code := h.run("status"); code != svc.ExitNotInstalled || !strings.Contains(h.stdout.String(), "steward-agent (unix-systemv): not installed") {
		t.Errorf("status: exit %d", code)
	}
	if code := h.run("start"); code != svc.ExitNotInstalled || !strings.Contains(h.stderr.String(), "run steward-agent install first") {
		t.Errorf("start: exit %d", code)
	}
	for platform, want := range map[string]string{
		svc.SysV:    "the service logs to /var/log/steward-agent.log and /var/log/steward-agent.err.log",
		svc.OpenRC:  "the service logs to /var/log/steward-agent.log and /var/log/steward-agent.err.log",
		svc.Systemd: "the service logs to the journal: journalctl -u steward-agent",
		svc.Launchd: "the service logs to /Library/Logs/Steward/steward-agent.log and /Library/Logs/Steward/steward-agent.err.log",
		svc.Windows: "the service logs to the Application event log, source steward-agent",
	} {
		h := newHarness(t, platform)
		h.m.Installed, h.m.FailStart = true, true
		if code := h.run("start"); code != svc.ExitFailure || !strings.Contains(h.stderr.String(), want) {
			t.Errorf("%s: failed start: exit %d, stderr does not say %q", platform, code, want)
		}
	}
}

func TestAgentSpecPerPlatform(t *testing.T) {
	cfg := config.Config{StateDir: "/var/lib/steward-agent"}
	file := "/etc/steward/agent.yaml"

	s := AgentSpec("steward-agent", svc.Systemd, file, cfg)
	if !slices.Equal(s.Arguments, []string{"run", "--config", file}) {
		t.Errorf("systemd arguments %q: the journal takes stderr, no --log-file", s.Arguments)
	}
	if s.Options["SystemdScript"] != systemd.AgentUnit {
		t.Error("systemd: not the hardened unit template as it is")
	}
	moved := cfg
	moved.StateDir, moved.LogFile = "/srv/steward state", "/srv/logs/agent.log"
	s = AgentSpec("steward-agent", svc.Systemd, file, moved)
	unit := s.Options["SystemdScript"].(string)
	if !strings.Contains(unit, "StateDirectoryMode=0700\nReadWritePaths=\"-/srv/steward state\"\nReadWritePaths=\"-/srv/logs\"\n") {
		t.Errorf("systemd unit does not let the agent write its state dir and log dir:\n%s", unit)
	}
	if slices.Contains(s.Arguments, "--log-file") {
		t.Error("--log-file added although the config names a log file")
	}

	for _, p := range []string{svc.SysV, svc.OpenRC, svc.Launchd} {
		s := AgentSpec("steward-agent", p, file, cfg)
		if i := slices.Index(s.Arguments, "--log-file"); i < 0 || !strings.HasSuffix(s.Arguments[i+1], "/steward-agent.log") {
			t.Errorf("%s arguments %q: want a --log-file, stderr is lost there", p, s.Arguments)
		}
	}
	if !strings.Contains(AgentSpec("steward-agent", svc.SysV, file, cfg).Options["SysvScript"].(string), "Provides:          steward-agent") {
		t.Error("sysv: not this package's script")
	}
	if !strings.Contains(AgentSpec("steward-agent", svc.OpenRC, file, cfg).Options["OpenRCScript"].(string), "supervise-daemon") {
		t.Error("openrc: not this package's script")
	}
	w := AgentSpec("steward-agent", svc.Windows, `C:\ProgramData\Steward\agent.yaml`, cfg)
	if w.Options["OnFailure"] != "restart" || w.Options["OnFailureResetPeriod"] != 3600 || slices.Contains(w.Arguments, "--log-file") {
		t.Errorf("windows spec %+v", w)
	}
	l := AgentSpec("steward-agent", svc.Launchd, file, cfg)
	if l.Options["KeepAlive"] != true || l.Options["RunAtLoad"] != true {
		t.Errorf("launchd spec %+v", l)
	}
}

// A unit shipped by a package counts as installed; install enables it
// once, so that the agent starts at boot, and then changes nothing.
func TestInstallEnablesShippedUnit(t *testing.T) {
	d := newInstallDirs(t)
	h := newHarness(t, svc.Systemd)
	h.m.Installed, h.m.Disabled = true, true
	args := []string{"--config", d.config, "--server", "http://127.0.0.1:8080", "--enroll-secret", "s", "--state-dir", d.state}
	if code := h.run("install", args...); code != svc.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
	if !slices.Equal(h.m.Mutating(), []string{"enable"}) || !strings.Contains(h.stdout.String(), "enabled service steward-agent to start at boot") {
		t.Errorf("calls %v", h.m.Calls)
	}
	h.m.Calls = nil
	if code := h.run("install", args...); code != svc.ExitOK || len(h.m.Mutating()) != 0 {
		t.Errorf("second install: exit %d, calls %v", code, h.m.Calls)
	}
}
