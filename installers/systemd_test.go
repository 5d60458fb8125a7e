package installers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitsVerify runs systemd-analyze verify on each unit. The
// units name /usr/bin binaries, which a build machine does not have, so
// the test points ExecStart at an executable stand-in first; everything
// else is checked as shipped.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install it with `apt-get install -y systemd`")
	}
	units, _ := filepath.Glob("systemd/*.service")
	if len(units) != 2 {
		t.Fatalf("found units %v, want steward-agent and steward-server", units)
	}
	stand := filepath.Join(t.TempDir(), "bin")
	os.MkdirAll(stand, 0o755)
	for _, u := range units {
		t.Run(filepath.Base(u), func(t *testing.T) {
			b, err := os.ReadFile(u)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			name := strings.TrimSuffix(filepath.Base(u), ".service")
			if !strings.Contains(text, "ExecStart=/usr/bin/"+name+" ") {
				t.Fatalf("%s: ExecStart does not run /usr/bin/%s", u, name)
			}
			// systemctl reload re-reads the server's TLS certificate and
			// alerting configuration, which it does on SIGHUP.
			if name == "steward-server" && !strings.Contains(text, "\nExecReload=/bin/kill -HUP $MAINPID\n") {
				t.Errorf("%s: no ExecReload sending SIGHUP", u)
			}
			exe := filepath.Join(stand, name)
			os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, filepath.Base(u)), []byte(strings.ReplaceAll(text, "/usr/bin/"+name, exe)), 0o644)
			cmd := exec.Command(analyze, "verify", filepath.Join(dir, filepath.Base(u)))
			cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
			out, err := cmd.CombinedOutput()
			// systemd-analyze exits 0 but still prints problems it finds in
			// the unit; either fails the test. Lines about the host's own
			// units (not ours) are ignored.
			var ours []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if strings.Contains(line, filepath.Base(u)) {
					ours = append(ours, line)
				}
			}
			if err != nil || len(ours) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
			}
		})
	}
}
