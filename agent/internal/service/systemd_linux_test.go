package service

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/config"
	svc "github.com/steward-project/steward/shared/service"
)

// renderSystemd installs spec through kardianos' systemd backend as a
// user unit, which lands in $HOME: HOME is a temporary directory and
// systemctl a stand-in, so nothing of the machine's changes. It returns
// the unit as kardianos wrote it.
func renderSystemd(t *testing.T, spec svc.Spec) string {
	t.Helper()
	home := t.TempDir()
	fake := t.TempDir()
	os.WriteFile(filepath.Join(fake, "systemctl"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	t.Setenv("HOME", home)
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	m, err := svc.Open(spec.Name, "systemd")
	if err != nil {
		t.Fatal(err)
	}
	spec.Options = maps.Clone(spec.Options)
	spec.Options["UserService"] = true
	if err := m.Install(spec); err != nil {
		t.Fatalf("kardianos install: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".config/systemd/user", spec.Name+".service"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// verifyUnit runs systemd-analyze verify on a unit and fails on any
// complaint about it.
func verifyUnit(t *testing.T, name, unit string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install it with `apt-get install -y systemd`")
	}
	file := filepath.Join(t.TempDir(), name+".service")
	os.WriteFile(file, []byte(unit), 0o644)
	cmd := exec.Command(analyze, "verify", file)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	out, err := cmd.CombinedOutput()
	var ours []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, filepath.Base(file)) {
			ours = append(ours, line)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s\n%s", err, out, unit)
	}
}

// The unit `steward-agent install` writes under systemd is the hardened
// one, running this agent with its config file, and systemd accepts it,
// also with the state and logs moved out of the unit's own directories.
func TestAgentSystemdUnitRenders(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "steward-agent")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	for _, c := range []struct {
		name string
		cfg  config.Config
		want []string
	}{
		{"default", config.Config{StateDir: "/var/lib/steward-agent"}, nil},
		{"moved", config.Config{StateDir: "/srv/steward/agent state", LogFile: "/srv/log/agent.log"},
			[]string{"ReadWritePaths=\"-/srv/steward/agent state\"\n", "ReadWritePaths=\"-/srv/log\"\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := AgentSpec("steward-agent-render-test", svc.Systemd, "/etc/steward/agent.yaml", c.cfg)
			spec.Executable = exe
			unit := renderSystemd(t, spec)
			wantExec := "ExecStart=" + exe + ` "run" "--config" "/etc/steward/agent.yaml"` + "\n"
			for _, w := range append([]string{wantExec, "ProtectSystem=strict\n", "StateDirectory=steward-agent\n", "MemoryMax=128M\n"}, c.want...) {
				if !strings.Contains(unit, w) {
					t.Errorf("rendered unit lacks %q:\n%s", w, unit)
				}
			}
			verifyUnit(t, spec.Name, unit)
		})
	}
}
