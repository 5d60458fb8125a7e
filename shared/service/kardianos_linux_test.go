package service

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/steward-project/steward/installers/systemd"
)

func TestOpen(t *testing.T) {
	m, err := Open("steward-agent", "")
	if err != nil {
		t.Fatalf("no manager detected: %v", err)
	}
	t.Logf("detected %s", m.Platform())
	if m, err := Open("steward-agent", "sysv"); err != nil || m.Platform() != SysV {
		t.Errorf("--service-manager sysv: %v %v", m, err)
	}
	if m, err := Open("steward-agent", "systemd"); err != nil || m.Platform() != Systemd {
		t.Errorf("--service-manager systemd: %v %v", m, err)
	}
	for _, bad := range []string{"launchd", "windows", "upstart", "SysV"} {
		_, err := Open("steward-agent", bad)
		if !errors.Is(err, ErrUnknownManager) || !strings.Contains(err.Error(), "choose openrc, systemd, sysv") {
			t.Errorf("--service-manager %s on %s: %v", bad, runtime.GOOS, err)
		}
	}
}

func TestRemoveRunlevelLinks(t *testing.T) {
	etc := t.TempDir()
	script := "/etc/init.d/steward-agent"
	for _, l := range []struct{ dir, name, target string }{
		{"rc2.d", "S50steward-agent", script},
		{"rc0.d", "K02steward-agent", script},
		{"rc2.d", "S01other", "/etc/init.d/other"},
		{"rc3.d", "README", script},
	} {
		os.MkdirAll(filepath.Join(etc, l.dir), 0o755)
		if err := os.Symlink(l.target, filepath.Join(etc, l.dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeRunlevelLinks(etc, script); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(etc, "rc?.d", "*"))
	for i := range left {
		left[i], _ = filepath.Rel(etc, left[i])
	}
	if strings.Join(left, " ") != "rc2.d/S01other rc3.d/README" {
		t.Errorf("left %v", left)
	}
}

// templateKeys are the keys kardianos gives each of its templates (see
// its Install for the platform); a template that uses another one fails
// to render at install.
var templateKeys = map[string][]string{
	Systemd: {"Description", "Path", "Name", "Dependencies", "Arguments", "ChRoot", "WorkingDirectory", "UserName",
		"ReloadSignal", "PIDFile", "LogDirectory", "OutputFileSupport", "LimitNOFILE", "Restart", "SuccessExitStatus", "EnvVars"},
	SysV:   {"Description", "DisplayName", "Path", "Arguments", "WorkingDirectory", "LogDirectory", "EnvVars"},
	OpenRC: {"DisplayName", "Description", "Path", "Arguments", "Dependencies", "LogDirectory", "EnvVars"},
}

var action = regexp.MustCompile(`{{-?\s*(.*?)\s*-?}}`)

// checkTemplate checks every action of a kardianos template uses a key
// the platform provides and a known function, and renders it naively
// (each value replaced by a sample) for a syntax check.
func checkTemplate(t *testing.T, platform, text string) string {
	t.Helper()
	allowed := map[string]bool{".": true}
	for _, k := range templateKeys[platform] {
		allowed[k] = true
	}
	for _, m := range action.FindAllStringSubmatch(text, -1) {
		parts := strings.Split(m[1], "|")
		head := strings.Fields(parts[0])
		switch {
		case len(head) == 1 && (head[0] == "end" || head[0] == "else"):
		case len(head) == 2 && (head[0] == "if" || head[0] == "range"):
			if !allowed[head[1]] {
				t.Errorf("%s template: unknown key in %q", platform, m[0])
			}
		case len(head) == 1 && allowed[head[0]]:
		default:
			t.Errorf("%s template: unknown key in %q", platform, m[0])
		}
		for _, f := range parts[1:] {
			if f := strings.TrimSpace(f); f != "cmd" && f != "cmdEscape" {
				t.Errorf("%s template: unknown function %q", platform, f)
			}
		}
	}
	return action.ReplaceAllString(text, "/usr/bin/sample")
}

// The init scripts use only what kardianos fills in, and are valid sh.
func TestInitScripts(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal("sh not found: install it with `apt-get install -y dash`")
	}
	for _, c := range []struct {
		platform, text string
		want           []string
	}{
		{SysV, SysVScript("steward-agent", "/var/log/steward-agent.err.log", ""),
			[]string{"Provides:          steward-agent", `output="/var/log/steward-agent.err.log"`, `$launcher "$exe"{{range Arguments}} {{. | cmd}}{{end}} </dev/null >>"$output" 2>&1 &`}},
		{SysV, SysVScript("steward-server", "/var/log/steward-server.log", "steward"),
			[]string{"setpriv --reuid=$(id -u steward) --regid=$(id -g steward) --init-groups \"$exe\""}},
		{OpenRC, OpenRCScript("steward-agent", "/var/log/steward-agent.err.log", ""),
			[]string{`output_log="/var/log/steward-agent.err.log"`, "supervisor=supervise-daemon"}},
		{OpenRC, OpenRCScript("steward-server", "/var/log/steward-server.log", "steward"),
			[]string{`command_user="steward:steward"`}},
	} {
		if strings.Contains(c.text, "@") {
			t.Errorf("%s script: placeholder left: %s", c.platform, c.text)
		}
		for _, w := range c.want {
			if !strings.Contains(c.text, w) {
				t.Errorf("%s script does not contain %q", c.platform, w)
			}
		}
		rendered := checkTemplate(t, c.platform, c.text)
		file := filepath.Join(t.TempDir(), "script")
		os.WriteFile(file, []byte(rendered), 0o755)
		if out, err := exec.Command(sh, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("sh -n on the %s script: %v\n%s\n%s", c.platform, err, out, rendered)
		}
	}
	checkTemplate(t, Systemd, systemd.AgentUnit)
	checkTemplate(t, Systemd, systemd.ServerUnit)
}

// TestSystemdManager drives the systemd backend against a stand-in
// systemctl that answers from files and records its calls: the answers
// of a real systemctl map to running, stopped and not installed, and a
// disabled unit is enabled.
func TestSystemdManager(t *testing.T) {
	dir := t.TempDir()
	bin := t.TempDir()
	script := `#!/bin/sh
echo "$*" >>"$FAKE_SYSTEMCTL/calls"
case "$1" in
is-active) cat "$FAKE_SYSTEMCTL/active"; [ "$(cat "$FAKE_SYSTEMCTL/active")" = active ] ;;
list-unit-files) cat "$FAKE_SYSTEMCTL/listed" ;;
is-enabled) cat "$FAKE_SYSTEMCTL/enabled"; [ "$(cat "$FAKE_SYSTEMCTL/enabled")" = enabled ] ;;
esac
`
	os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_SYSTEMCTL", dir)
	answer := func(file, text string) { os.WriteFile(filepath.Join(dir, file), []byte(text+"\n"), 0o644) }

	m, err := Open("steward-agent", "systemd")
	if err != nil {
		t.Fatal(err)
	}
	listed := "UNIT FILE STATE VENDOR PRESET\nsteward-agent.service disabled enabled\n\n1 unit files listed."
	for _, c := range []struct {
		active, listed string
		want           Status
	}{
		{"active", listed, StatusRunning},
		{"activating", listed, StatusRunning},
		{"inactive", listed, StatusStopped},
		{"failed", listed, StatusStopped},
		{"inactive", "0 unit files listed.", StatusNotInstalled},
		{"unknown", "", StatusNotInstalled},
	} {
		answer("active", c.active)
		answer("listed", c.listed)
		if st, err := m.Status(); err != nil || st != c.want {
			t.Errorf("is-active %s: status %v %v, want %v", c.active, st, err, c.want)
		}
	}
	e := m.(Enabler)
	answer("enabled", "disabled")
	if on, err := e.Enabled(); err != nil || on {
		t.Errorf("disabled unit: enabled %v %v", on, err)
	}
	answer("enabled", "masked")
	if on, err := e.Enabled(); err != nil || !on {
		t.Errorf("masked unit: enabled %v %v, want it left alone", on, err)
	}
	os.Remove(filepath.Join(dir, "calls"))
	if err := e.Enable(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "calls")); string(b) != "enable steward-agent.service\n" {
		t.Errorf("Enable ran systemctl %q", b)
	}

	// A unit that is not in /etc/systemd/system came with a package:
	// uninstall disables it and leaves the file alone.
	shipped, err := Open("steward-agent-shipped-test", "systemd")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "calls"))
	if err := shipped.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "calls")); string(b) != "disable steward-agent-shipped-test.service\n" {
		t.Errorf("Uninstall of a shipped unit ran systemctl %q", b)
	}
}
