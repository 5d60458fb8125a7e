package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/service"
)

// TestServiceSysV installs, starts, stops and removes a real SysV
// service of the agent on this machine, through the commands packages
// call, and checks that the agent the init script starts comes online at
// a real steward-server. The service has a name of its own (built in
// with -X main.serviceName) and its config and state in temporary
// directories; everything it puts in /etc/init.d, /etc/rc?.d, /var/run
// and /var/log is removed at the end.
func TestServiceSysV(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test installs an init script in /etc/init.d and needs root: run the tests as root (as make test does in CI)")
	}
	if _, err := exec.LookPath("service"); err != nil {
		t.Fatal("the service command is missing: install it with `apt-get install -y init-system-helpers`")
	}
	m, err := service.Open("steward-agent", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Platform() != service.SysV {
		// Nothing to install fixes this: on a machine booted with
		// systemd the SysV path cannot run as it does in production.
		// The unit is covered there by TestAgentSystemdUnitRenders and
		// the command logic by the fake manager tests.
		t.Skipf("the real service test drives SysV, and this machine's service manager is %s", m.Platform())
	}

	name := fmt.Sprintf("steward-agent-test-%d", os.Getpid())
	dir := t.TempDir()
	agent := filepath.Join(dir, "steward-agent")
	build := exec.Command("go", "build", "-ldflags", "-X main.serviceName="+name, "-o", agent, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	serverBin := buildServer(t)
	logFile := "/var/log/" + name + ".log"
	t.Cleanup(func() { removeSysV(t, agent, name) })

	srv := startServer(t, serverBin, filepath.Join(dir, "data"))
	cfgFile := filepath.Join(dir, "etc", "agent.yaml")
	stateDir := filepath.Join(dir, "state")
	install := []string{"install", "--config", cfgFile, "--server", srv.url, "--enroll-secret-file",
		filepath.Join(srv.dataDir, "enroll-secret"), "--state-dir", stateDir, "--log-level", "debug"}

	expect := func(want int, args ...string) string {
		t.Helper()
		stdout, stderr, code := runAgent(t, agent, args...)
		if code != want {
			t.Fatalf("steward-agent %s: exit %d, want %d\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout + stderr
	}

	out := expect(0, install...)
	if !strings.Contains(out, "installed service "+name+" (unix-systemv)") {
		t.Errorf("install said:\n%s", out)
	}
	if fi, err := os.Stat(cfgFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file: %v %v", fi, err)
	}
	script, err := os.ReadFile("/etc/init.d/" + name)
	if err != nil || !strings.Contains(string(script), `exe="`+agent+`"`) ||
		!strings.Contains(string(script), `"$exe" "run" "--config" "`+cfgFile+`" "--log-file" "`+logFile+`"`) {
		t.Fatalf("init script (%v):\n%s", err, script)
	}
	// Installing again changes nothing.
	if out := expect(0, install...); !strings.Contains(out, "unchanged") || !strings.Contains(out, "already installed") {
		t.Errorf("second install said:\n%s", out)
	}
	if again, _ := os.ReadFile("/etc/init.d/" + name); string(again) != string(script) {
		t.Error("second install rewrote the init script")
	}
	expect(3, "status")

	expect(0, "start")
	if out := expect(0, "status"); !strings.Contains(out, "running") {
		t.Errorf("status after start: %s", out)
	}
	srv.waitLog(t, "agent connected")
	srv.waitOnline(t, true)

	expect(0, "stop")
	// The agent stopped the way it stops on SIGTERM: it closed its
	// connection with a close frame and said so in its log file.
	srv.waitLog(t, "agent closed connection")
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), "msg=stopping") || !strings.Contains(string(b), "msg=stopped") {
		t.Errorf("agent log %s (%v):\n%s", logFile, err, b)
	}
	if out := expect(3, "status"); !strings.Contains(out, "stopped") {
		t.Errorf("status after stop: %s", out)
	}
	expect(0, "restart")
	srv.waitLog(t, "agent connected")

	out = expect(0, "uninstall")
	if !strings.Contains(out, "stopped service") || !strings.Contains(out, "removed service") {
		t.Errorf("uninstall said:\n%s", out)
	}
	srv.waitLog(t, "agent closed connection")
	if _, err := os.Stat("/etc/init.d/" + name); err == nil {
		t.Error("init script left after uninstall")
	}
	if links, _ := filepath.Glob("/etc/rc?.d/[SK]??" + name); len(links) > 0 {
		t.Errorf("runlevel links left after uninstall: %v", links)
	}
	if _, err := os.Stat(cfgFile); err != nil {
		t.Errorf("uninstall removed the config: %v", err)
	}
	if out := expect(4, "status"); !strings.Contains(out, "not installed") {
		t.Errorf("status after uninstall: %s", out)
	}
	if out := expect(0, "uninstall"); !strings.Contains(out, "is not installed") {
		t.Errorf("second uninstall said: %s", out)
	}
	expect(4, "start")
	expect(2, "reload")
}

// removeSysV stops and removes the test's service and whatever it left.
func removeSysV(t *testing.T, agent, name string) {
	runAgent(t, agent, "uninstall")
	pidFile := "/var/run/" + name + ".pid"
	if b, err := os.ReadFile(pidFile); err == nil {
		var pid int
		if _, err := fmt.Sscanf(string(b), "%d", &pid); err == nil && pid > 0 {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
	leftovers, _ := filepath.Glob("/var/log/" + name + ".*")
	links, _ := filepath.Glob("/etc/rc?.d/[SK]??" + name)
	for _, f := range append(append(leftovers, links...), pidFile, "/etc/init.d/"+name) {
		os.Remove(f)
	}
}

// buildServer builds steward-server into a temporary directory.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "steward-server")
	build := exec.Command("go", "build", "-o", bin, "github.com/steward-project/steward/server/cmd/steward-server")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build server: %v\n%s", err, out)
	}
	return bin
}

// testServer is a steward-server run by a test, with its log lines.
type testServer struct {
	url, dataDir, token string
	lines               chan string
	mu                  sync.Mutex
	log                 strings.Builder
}

var listening = regexp.MustCompile(`msg="steward-server listening" url=(\S+)`)

// startServer starts steward-server on a port of its choosing, with
// extra flags, and waits for it to say where it listens.
func startServer(t *testing.T, bin, dataDir string, extra ...string) *testServer {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--db", "sqlite://" + filepath.Join(dataDir, "steward.db"), "--log-level", "debug"}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &testServer{dataDir: dataDir, lines: make(chan string, 1024)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			s.mu.Lock()
			t.Logf("steward-server log:\n%s", s.log.String())
			s.mu.Unlock()
		}
	})
	line := s.waitLog(t, "steward-server listening")
	s.url = listening.FindStringSubmatch(line)[1]
	token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(token))
	return s
}

// waitLog waits for the next log line that contains what.
func (s *testServer) waitLog(t *testing.T, what string) string {
	t.Helper()
	for line := range s.lines {
		if strings.Contains(line, what) {
			return line
		}
	}
	t.Fatalf("steward-server exited before logging %q", what)
	return ""
}

// waitOnline waits until GET /api/v1/hosts lists one host, online or not
// as asked. The host turns online once the server has stored the agent's
// first message after its hello, a moment after "agent connected".
func (s *testServer) waitOnline(t *testing.T, online bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/hosts", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var page struct {
			Hosts []struct {
				Hostname string `json:"hostname"`
				Online   bool   `json:"online"`
			} `json:"hosts"`
		}
		if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/hosts: %d %v\n%s", resp.StatusCode, err, body)
		}
		if len(page.Hosts) > 1 {
			t.Fatalf("more than one host: %s", body)
		}
		if len(page.Hosts) == 1 && page.Hosts[0].Online == online {
			return
		}
		<-tick.C
	}
}
