//go:build !windows

package service

import (
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/config"
	svc "github.com/steward-project/steward/shared/service"
	"github.com/steward-project/steward/shared/service/servicetest"
)

// fakeAccount is the user running the test, so that nothing is created
// and every chown is allowed.
type fakeAccount struct{ ensured []string }

func (a *fakeAccount) Ensure(name, home string) (bool, error) {
	a.ensured = append(a.ensured, name+" "+home)
	return false, nil
}

func (a *fakeAccount) IDs(string) (int, int, error) { return os.Getuid(), os.Getgid(), nil }

type serverHarness struct {
	t              *testing.T
	m              *servicetest.Manager
	acc            *fakeAccount
	account        string
	stdout, stderr bytes.Buffer
}

func newServerHarness(t *testing.T) *serverHarness {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return &serverHarness{t: t, m: servicetest.New(svc.SysV), acc: &fakeAccount{}, account: u.Username}
}

func (h *serverHarness) run(cmd string, args ...string) int {
	h.stdout.Reset()
	h.stderr.Reset()
	tool := NewServerTool("steward-server", h.account, &h.stdout, &h.stderr,
		servicetest.Open(h.m, nil), h.acc)
	tool.Admin = func() bool { return true }
	code := tool.Run(cmd, args)
	h.t.Logf("%s %q -> exit %d\nstdout:\n%sstderr:\n%s", cmd, args, code, h.stdout.String(), h.stderr.String())
	return code
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestServerInstall(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "etc", "server.yaml")
	data := filepath.Join(dir, "data")
	h := newServerHarness(t)
	args := []string{"--config", file, "--data-dir", data, "--listen", "0.0.0.0:8443", "--log-level", "warn"}
	if code := h.run("install", args...); code != svc.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
	cfg, err := config.Load("serve", []string{"--config", file}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:8443" || cfg.DataDir != data || cfg.DB != "sqlite://"+filepath.Join(data, "steward.db") || cfg.LogLevel != "warn" {
		t.Errorf("config %+v", cfg)
	}
	if p := perm(t, file); p != 0o640 {
		t.Errorf("config mode %v, want 0640 (root:%s)", p, h.account)
	}
	if p := perm(t, data); p != 0o700 {
		t.Errorf("data dir mode %v, want 0700", p)
	}
	if !slices.Equal(h.m.Spec.Arguments, []string{"serve", "--config", file}) || h.m.Spec.UserName != h.account {
		t.Errorf("spec %+v", h.m.Spec)
	}
	if s, _ := h.m.Spec.Options["SysvScript"].(string); !strings.Contains(s, "setpriv --reuid=$(id -u "+h.account+")") {
		t.Errorf("sysv script does not drop to %s:\n%s", h.account, s)
	}
	if len(h.acc.ensured) != 1 || h.acc.ensured[0] != h.account+" /var/lib/steward" {
		t.Errorf("account ensured %v", h.acc.ensured)
	}

	// Twice: nothing changes.
	before, _ := os.ReadFile(file)
	h.m.Calls = nil
	if code := h.run("install", args...); code != svc.ExitOK {
		t.Fatalf("second install: exit %d", code)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) || len(h.m.Mutating()) != 0 {
		t.Errorf("second install changed the file or the service: %v", h.m.Calls)
	}
	if out := h.stdout.String(); !strings.Contains(out, "unchanged") || !strings.Contains(out, "already installed") {
		t.Errorf("second install said:\n%s", out)
	}
}

// An existing file keeps its sections and comments; a flag changes only
// its key; no flag, nothing.
func TestServerInstallKeepsConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.yaml")
	data := filepath.Join(dir, "data")
	body := "# ours\nlisten: 127.0.0.1:9000\ndata_dir: " + data + "\ndb: sqlite://" + data + "/s.db\n" +
		"agent:\n  heartbeat_interval: 20s\nalerting:\n  rules:\n    - name: offline\n      type: host_offline\n      after: 10m\n"
	os.WriteFile(file, []byte(body), 0o600)
	h := newServerHarness(t)
	if code := h.run("install", "--config", file); code != svc.ExitOK {
		t.Fatalf("install: exit %d", code)
	}
	if got, _ := os.ReadFile(file); string(got) != body {
		t.Errorf("file rewritten:\n%s", got)
	}
	if p := perm(t, file); p != 0o640 {
		t.Errorf("mode %v", p)
	}
	h.m.Installed = false
	if code := h.run("install", "--config", file, "--listen", "0.0.0.0:9000"); code != svc.ExitOK {
		t.Fatalf("install --listen: exit %d", code)
	}
	got, _ := os.ReadFile(file)
	if want := strings.Replace(body, "127.0.0.1:9000", "0.0.0.0:9000", 1); string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestServerInstallBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:8080\nalerting:\n  rules:\n    - name: x\n      type: nonsense\n"), 0o600)
	fresh := filepath.Join(dir, "new.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", fresh, "--data-dir", dir, "--log-level", "loud"}, "log-level"},
		{[]string{"--config", fresh, "--data-dir", dir, "--db", "mysql://x"}, "want sqlite://PATH or postgres://URL"},
		{[]string{"--config", fresh, "--data-dir", dir, "--tls-cert", "/c.pem"}, "tls-cert and tls-key must be given together"},
		{[]string{"--config", bad}, bad + ":5:"},
		{[]string{"--config", fresh, "extra"}, "unexpected argument"},
	} {
		h := newServerHarness(t)
		if code := h.run("install", c.args...); code != svc.ExitUsage || !strings.Contains(h.stderr.String(), c.want) {
			t.Errorf("install %q: exit %d, stderr %q, want 2 and %q", c.args, code, h.stderr.String(), c.want)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Fatalf("install %q wrote the config", c.args)
		}
		if len(h.m.Calls) != 0 || len(h.acc.ensured) != 0 {
			t.Errorf("install %q acted: %v %v", c.args, h.m.Calls, h.acc.ensured)
		}
	}
}

func TestServerCommands(t *testing.T) {
	h := newServerHarness(t)
	if code := h.run("status"); code != svc.ExitNotInstalled || !strings.Contains(h.stdout.String(), "not installed") {
		t.Errorf("status: %d", code)
	}
	if code := h.run("uninstall"); code != svc.ExitOK || !strings.Contains(h.stdout.String(), "nothing to remove") {
		t.Errorf("uninstall: %d", code)
	}
	h.m.Installed, h.m.Running = true, true
	if code := h.run("status"); code != svc.ExitOK {
		t.Errorf("status running: %d", code)
	}
	if code := h.run("uninstall"); code != svc.ExitOK || !slices.Equal(h.m.Mutating(), []string{"stop", "uninstall"}) {
		t.Errorf("uninstall: %d %v", code, h.m.Calls)
	}
}

func TestServerSpecSystemd(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.DB = DataDir, "sqlite://"+DataDir+"/steward.db"
	s := ServerSpec("steward-server", "steward", svc.Systemd, ConfigFile, cfg)
	unit := s.Options["SystemdScript"].(string)
	if strings.Contains(unit, "ReadWritePaths") || !strings.Contains(unit, "User={{UserName}}") || s.UserName != "steward" {
		t.Errorf("default layout:\n%s", unit)
	}
	cfg.DataDir, cfg.DB = "/srv/steward", "sqlite:///srv/db/steward.db"
	unit = ServerSpec("steward-server", "steward", svc.Systemd, ConfigFile, cfg).Options["SystemdScript"].(string)
	if !strings.Contains(unit, "ReadWritePaths=\"-/srv/steward\"\nReadWritePaths=\"-/srv/db\"\n") {
		t.Errorf("moved layout:\n%s", unit)
	}
	cfg.DB = "postgres://steward@db/steward"
	unit = ServerSpec("steward-server", "steward", svc.Systemd, ConfigFile, cfg).Options["SystemdScript"].(string)
	if strings.Count(unit, "ReadWritePaths") != 1 {
		t.Errorf("postgres layout:\n%s", unit)
	}
}
