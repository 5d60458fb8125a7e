package installers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"

	"github.com/steward-project/steward/installers/systemd"
)

type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

// render has kardianos write the unit from tmpl, as the install commands
// do, but as a user unit: it lands in a temporary $HOME, and systemctl
// is a stand-in, so the machine is left alone.
func render(t *testing.T, name, tmpl, exe, userName string, args []string) string {
	t.Helper()
	var sys service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			sys = s
		}
	}
	if sys == nil {
		t.Fatal("kardianos has no systemd backend on this system")
	}
	home, fake := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(fake, "systemctl"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	t.Setenv("HOME", home)
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	s, err := sys.New(noProgram{}, &service.Config{
		Name: name, Executable: exe, Arguments: args, UserName: userName,
		Option: service.KeyValue{"SystemdScript": tmpl, "UserService": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Install(); err != nil {
		t.Fatalf("kardianos install: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".config/systemd/user", name+".service"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRenderedUnitsMatchAndVerify renders each template through kardianos
// with the reference unit's own ExecStart and account: the result must be
// the reference unit (ExecStart's arguments come out quoted), and systemd
// must accept it.
func TestRenderedUnitsMatchAndVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install it with `apt-get install -y systemd`")
	}
	stand := t.TempDir()
	for name, tmpl := range map[string]string{"steward-agent": systemd.AgentUnit, "steward-server": systemd.ServerUnit} {
		t.Run(name, func(t *testing.T) {
			ref, err := os.ReadFile(filepath.Join("systemd", name+".service"))
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, line := range strings.Split(string(ref), "\n") {
				if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/bin/"+name+" "); ok {
					args = strings.Fields(rest)
				}
			}
			exe := filepath.Join(stand, name)
			os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
			unit := render(t, name, tmpl, exe, "steward", args)

			want := strings.ReplaceAll(string(ref), "/usr/bin/"+name, exe)
			var unquoted []string
			for _, line := range strings.Split(unit, "\n") {
				if strings.HasPrefix(line, "ExecStart=") {
					line = strings.ReplaceAll(line, `"`, "")
				}
				unquoted = append(unquoted, line)
			}
			if got := strings.Join(unquoted, "\n"); got != want {
				t.Errorf("rendered unit differs from the reference:\n%s\n--- want\n%s", unit, want)
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
		})
	}
}
