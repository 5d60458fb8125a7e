//go:build linux

package packaging

// The lifecycle tests install the packages on this machine with dpkg, as
// an administrator would, and drive real steward-server and steward-agent
// processes. They need root and a machine without Steward installed (a
// throwaway CI machine): each checks that first, fails with the reason if
// not, and removes everything it installed, also when it fails.
//
// systemd is not PID 1 on the CI machine, so `steward-agent install`
// registers a SysV init script (/etc/init.d/steward-agent) there; the
// tests log which registration they found. The machine's
// /usr/sbin/policy-rc.d forbids starting services from packages, as
// Debian container images do; the tests check that the packages honour
// it, then set STEWARD_FORCE_START=1 to start the service anyway.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	agentBin   = "/usr/bin/steward-agent"
	agentState = "/var/lib/steward-agent"
	initScript = "/etc/init.d/steward-agent"
)

// agentPaths are what an installed agent may leave on the machine; a
// lifecycle test starts only when none exists, and removes them at the end.
var agentPaths = []string{
	agentBin, agentConfig, agentSecret, agentCA, "/etc/steward/enroll.env", agentState, initScript,
	"/etc/systemd/system/steward-agent.service", "/lib/systemd/system/steward-agent.service",
}

var (
	realOnce sync.Once
	realErr  error
)

// realBins are the real binaries, built once: two agent versions (for an
// upgrade) and the server.
type realBins struct{ agent1, agent2, server string }

const (
	agentVersion1 = "lifecycle-1"
	agentVersion2 = "lifecycle-2"
)

func realBinaries(t *testing.T) realBins {
	t.Helper()
	realOnce.Do(func() {
		realDir, realErr = os.MkdirTemp("", "steward-packaging-bin-")
		if realErr != nil {
			return
		}
		for _, b := range []struct{ pkg, version, out string }{
			{"github.com/steward-project/steward/agent/cmd/steward-agent", agentVersion1, "1/steward-agent"},
			{"github.com/steward-project/steward/agent/cmd/steward-agent", agentVersion2, "2/steward-agent"},
			{"github.com/steward-project/steward/server/cmd/steward-server", "lifecycle", "steward-server"},
		} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+b.version,
				"-o", filepath.Join(realDir, b.out), b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				realErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if realErr != nil {
		t.Fatal(realErr)
	}
	return realBins{
		agent1: filepath.Join(realDir, "1/steward-agent"),
		agent2: filepath.Join(realDir, "2/steward-agent"),
		server: filepath.Join(realDir, "steward-server"),
	}
}

// agentMachine readies this machine for a test that installs the agent
// package: root, the machine lock, no agent installed yet; and it
// removes whatever the test installed at the end, with the agent's logs
// when the test failed. It says whether /etc/steward existed before.
func agentMachine(t *testing.T) (etcExisted bool) {
	t.Helper()
	requireRoot(t)
	lockMachine(t)
	requireCleanAgent(t)
	etcExisted = exists(configDir)
	t.Cleanup(func() { cleanupAgent(t, etcExisted) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent logs:\n%s", agentLogs())
		}
	})
	return etcExisted
}

// requireRoot fails unless the test runs as root with dpkg.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the package lifecycle tests install packages with dpkg: run them as root (CI does)")
	}
	requireTool(t, "dpkg", "dpkg")
	requireTool(t, "dpkg-deb", "dpkg")
	requireTool(t, "dpkg-reconfigure", "debconf")
}

// lockMachine serialises the tests that install Steward on this machine,
// across test processes too (two `go test` runs at once).
func lockMachine(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/run/lock/steward-system-tests.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// requireCleanAgent fails when steward-agent is already on this machine:
// the test would otherwise change, then delete, someone's installation.
func requireCleanAgent(t *testing.T) {
	t.Helper()
	var found []string
	if st := dpkgStatus("steward-agent"); st != "" {
		found = append(found, "package steward-agent ("+st+")")
	}
	for _, p := range agentPaths {
		if _, err := os.Lstat(p); err == nil {
			found = append(found, p)
		}
	}
	if pids := agentPIDs(); len(pids) > 0 {
		found = append(found, fmt.Sprintf("running %s processes %v", agentBin, pids))
	}
	if len(found) > 0 {
		t.Fatalf("steward-agent is already on this machine (%s); this test installs and purges it for real, so it needs a machine without it: "+
			"dpkg --purge steward-agent, and remove what is left of the above", strings.Join(found, ", "))
	}
}

// cleanupAgent purges the package and removes whatever a failed test
// left: the agent processes it started (none ran before the test) and
// the files that requireCleanAgent found absent.
func cleanupAgent(t *testing.T, etcExisted bool) {
	if out, err := dpkg(nil, "--purge", "steward-agent"); err != nil {
		t.Errorf("cleanup: dpkg --purge steward-agent: %v\n%s", err, out)
	}
	for _, pid := range agentPIDs() {
		t.Errorf("cleanup: %s (pid %d) still ran after the purge; killing it", agentBin, pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, p := range agentPaths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("cleanup: %s was left behind; removing it", p)
			os.RemoveAll(p)
		}
	}
	logs, _ := filepath.Glob("/var/log/steward-agent*")
	for _, p := range logs {
		os.RemoveAll(p)
	}
	if !etcExisted {
		os.Remove(configDir) // only when empty
	}
}

// dpkgStatus is dpkg's status of an installed or half-removed package,
// "" when dpkg does not know it.
func dpkgStatus(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Version}", pkg).Output()
	if err != nil || strings.HasPrefix(string(out), "un") {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// dpkg runs dpkg with args and env added; see frontEnd.
func dpkg(env []string, args ...string) (string, error) {
	return frontEnd(env, "dpkg", args...)
}

// frontEnd runs a dpkg command (dpkg, dpkg-reconfigure) as a package
// front end does: holding dpkg's front-end lock, waiting while apt or
// another dpkg runs, with env added to the environment.
func frontEnd(env []string, name string, args ...string) (string, error) {
	f, err := os.OpenFile("/var/lib/dpkg/lock-frontend", os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return "", err
	}
	defer f.Close() // releases the lock
	lock := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	for {
		err = syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lock)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("lock /var/lib/dpkg/lock-frontend: %w", err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DPKG_FRONTEND_LOCKED=1", "DEBIAN_FRONTEND=noninteractive")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustDpkg is dpkg that fails the test on error and logs the output.
func mustDpkg(t *testing.T, env []string, args ...string) string {
	t.Helper()
	return mustFrontEnd(t, env, "dpkg", args...)
}

func mustFrontEnd(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := frontEnd(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

// agentPIDs lists the processes running /usr/bin/steward-agent (also
// after the file was replaced or removed).
func agentPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink("/proc/" + e.Name() + "/exe")
		if err == nil && strings.TrimSuffix(exe, " (deleted)") == agentBin {
			pids = append(pids, pid)
		}
	}
	return pids
}

// serviceStatus is the exit status of `steward-agent status`: 0 running,
// 3 stopped, 4 not installed.
func serviceStatus(t *testing.T) int {
	t.Helper()
	return binStatus(t, agentBin)
}

// binStatus is the exit status of `BIN status`.
func binStatus(t *testing.T, bin string) int {
	t.Helper()
	out, err := exec.Command(bin, "status").CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		t.Logf("%s status: exit %d: %s", bin, exit.ExitCode(), out)
		return exit.ExitCode()
	}
	t.Fatalf("%s status: %v\n%s", bin, err, out)
	return -1
}

// policyForbidsStart says whether this machine's policy-rc.d forbids
// packages to start services.
func policyForbidsStart() bool {
	err := exec.Command("/usr/sbin/policy-rc.d", "steward-agent", "start").Run()
	var exit *exec.ExitError
	return errors.As(err, &exit) && exit.ExitCode() == 101
}

// registration names how the service name is registered here, for the
// log.
func registration(name string) string {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		return "systemd (systemd is PID 1)"
	}
	if _, err := os.Stat("/etc/init.d/" + name); err == nil {
		return "SysV init script /etc/init.d/" + name + " (systemd is not PID 1)"
	}
	return "none found: no /etc/init.d/" + name + " and no systemd"
}

// testServer is a real steward-server on a loopback port.
type testServer struct {
	url, dataDir, token string
	cmd                 *exec.Cmd
	mu                  sync.Mutex
	out                 strings.Builder
	done                chan struct{}
}

func (s *testServer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(b)
}

func (s *testServer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func startServer(t *testing.T, bin string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	s := &testServer{url: "http://" + addr, dataDir: dir, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--listen", addr, "--db", "sqlite://"+filepath.Join(dir, "steward.db"),
		"--data-dir", dir, "--log-level", "debug")
	s.cmd.Stdout, s.cmd.Stderr = s, s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		<-s.done
		if t.Failed() {
			t.Logf("steward-server output:\n%s", s.output())
		}
	})
	waitFor(t, "steward-server ready", func() (bool, string) {
		select {
		case <-s.done:
			t.Fatalf("steward-server exited: %s", s.output())
		default:
		}
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	token, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(token))
	return s
}

// enrollSecret is the secret the server wrote at its first start.
func (s *testServer) enrollSecret(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dataDir, "enroll-secret"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

type apiHost struct {
	ID           int64  `json:"id"`
	Hostname     string `json:"hostname"`
	AgentVersion string `json:"agent_version"`
	Online       bool   `json:"online"`
}

// hosts lists the server's hosts through the admin API.
func (s *testServer) hosts(t *testing.T) []apiHost {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", s.url+"/api/v1/hosts", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Hosts []apiHost `json:"hosts"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /api/v1/hosts: %s %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page.Hosts
}

// waitHost waits until the only host matches want and returns it.
func (s *testServer) waitHost(t *testing.T, what string, want func(apiHost) bool) apiHost {
	t.Helper()
	var h apiHost
	waitFor(t, what, func() (bool, string) {
		hosts := s.hosts(t)
		if len(hosts) != 1 {
			return false, fmt.Sprintf("hosts %+v", hosts)
		}
		h = hosts[0]
		return want(h), fmt.Sprintf("host %+v, agent processes %v", h, agentPIDs())
	})
	return h
}

// waitFor checks cond at every tick until it holds. It sets no limit of
// its own: it gives up only shortly before the test binary's deadline
// (go test -timeout), so that the cleanups still run and remove what the
// test installed.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var stop <-chan time.Time
	if d, ok := t.Deadline(); ok {
		stop = time.After(time.Until(d) - 30*time.Second)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-tick.C:
		case <-stop:
			t.Fatalf("still waiting for %s as the test deadline nears; last state: %s", what, state)
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// agentLogs returns the agent's log files, for failure messages.
func agentLogs() string {
	var b strings.Builder
	logs, _ := filepath.Glob("/var/log/steward-agent*")
	for _, p := range logs {
		data, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "--- %s\n%s\n", p, data)
	}
	return b.String()
}

// TestDebAgentLifecycle installs a configured agent .deb, sees the host
// enroll and come online, upgrades it (same host, same node key and
// configuration, new binary running), removes it (stopped, configuration
// and state kept) and purges it (everything gone).
func TestDebAgentLifecycle(t *testing.T) {
	etcExisted := agentMachine(t)
	bins := realBinaries(t)
	srv := startServer(t, bins.server)
	enroll := &Enrollment{Server: srv.url, EnrollSecret: srv.enrollSecret(t)}
	out := t.TempDir()
	v1, err := Deb("agent", Options{Version: "1.0.0", Arch: "amd64", Binary: bins.agent1, Enroll: enroll, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}

	// Install. Where policy-rc.d forbids starting services, the package
	// registers the service, says so and leaves it stopped.
	got := mustDpkg(t, nil, "-i", v1)
	if strings.Contains(got, "failed") {
		t.Errorf("dpkg -i printed a failure:\n%s", got)
	}
	t.Logf("service registration: %s", registration("steward-agent"))
	if policyForbidsStart() {
		if !strings.Contains(got, "not starting the service") || !strings.Contains(got, agentBin+" start") {
			t.Errorf("policy-rc.d forbids starting services, but the package did not say so and how to start:\n%s", got)
		}
		if st := serviceStatus(t); st != 3 {
			t.Fatalf("steward-agent status = %d after an install that must not start it, want 3 (stopped)", st)
		}
		if pids := agentPIDs(); len(pids) != 0 {
			t.Fatalf("the agent runs (%v) although policy-rc.d forbids starting it", pids)
		}
		// What the message says to do.
		if b, err := exec.Command(agentBin, "start").CombinedOutput(); err != nil {
			t.Fatalf("steward-agent start: %v\n%s", err, b)
		}
	}
	if st := serviceStatus(t); st != 0 {
		t.Fatalf("steward-agent status = %d, want 0 (running)", st)
	}
	host := srv.waitHost(t, "the agent to enroll and come online", func(h apiHost) bool {
		return h.Online && h.AgentVersion == agentVersion1
	})
	config1 := readString(t, agentConfig)
	key1 := readString(t, filepath.Join(agentState, "node_key"))
	pids1 := agentPIDs()
	if len(pids1) != 1 {
		t.Fatalf("agent processes after install: %v, want one", pids1)
	}
	if fi, err := os.Stat(agentSecret); err != nil || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s: %v %v, want mode 0600 owned by root", agentSecret, fi.Mode(), err)
	}

	// Upgrade: the same host with the new binary, its node key and
	// configuration untouched.
	v2, err := Deb("agent", Options{Version: "1.0.1", Arch: "amd64", Binary: bins.agent2, Enroll: enroll, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	got = mustDpkg(t, []string{"STEWARD_FORCE_START=1"}, "-i", v2)
	if !strings.Contains(got, "service restarted") {
		t.Errorf("the upgrade did not restart the service:\n%s", got)
	}
	if st := dpkgStatus("steward-agent"); st != "ii 1.0.1-1" {
		t.Errorf("dpkg status after the upgrade: %q", st)
	}
	upgraded := srv.waitHost(t, "the upgraded agent online", func(h apiHost) bool {
		return h.Online && h.AgentVersion == agentVersion2
	})
	if upgraded.ID != host.ID {
		t.Errorf("host id %d after the upgrade, was %d", upgraded.ID, host.ID)
	}
	if readString(t, agentConfig) != config1 {
		t.Errorf("the upgrade changed %s", agentConfig)
	}
	if readString(t, filepath.Join(agentState, "node_key")) != key1 {
		t.Errorf("the upgrade changed the node key")
	}
	pids2 := agentPIDs()
	if len(pids2) != 1 || pids2[0] == pids1[0] {
		t.Errorf("agent processes %v after the upgrade, %v before: want one new process", pids2, pids1)
	}

	// Remove: stopped and unregistered; binary gone; configuration,
	// secret and node key kept.
	mustDpkg(t, nil, "-r", "steward-agent")
	if pids := agentPIDs(); len(pids) != 0 {
		t.Errorf("agent processes %v still run after dpkg -r", pids)
	}
	if exists(agentBin) {
		t.Errorf("%s is still there after dpkg -r", agentBin)
	}
	for _, p := range []string{agentConfig, agentSecret, filepath.Join(agentState, "node_key")} {
		if !exists(p) {
			t.Errorf("dpkg -r removed %s; it keeps configuration and state until purge", p)
		}
	}
	if exists(initScript) {
		t.Errorf("dpkg -r left %s registered", initScript)
	}
	if st := dpkgStatus("steward-agent"); st != "rc 1.0.1-1" {
		t.Errorf("dpkg status after -r: %q, want rc (removed, config files kept)", st)
	}
	srv.waitHost(t, "the host offline after dpkg -r", func(h apiHost) bool { return !h.Online })

	// Purge: configuration, secret and state gone.
	mustDpkg(t, nil, "--purge", "steward-agent")
	for _, p := range append([]string{agentConfig, agentSecret, agentState}, agentPaths...) {
		if exists(p) {
			t.Errorf("%s is still there after dpkg --purge", p)
		}
	}
	if !etcExisted && exists(configDir) {
		t.Errorf("%s is still there after dpkg --purge", configDir)
	}
	if st := dpkgStatus("steward-agent"); st != "" {
		t.Errorf("dpkg status after --purge: %q", st)
	}
}

// TestDebAgentUnconfigured installs the unconfigured agent .deb: it
// registers nothing and runs nothing, even where starting is allowed, so
// nothing can crash-loop, and it prints how to finish. Then it finishes
// the way the message offers: /etc/steward/enroll.env and
// dpkg-reconfigure.
func TestDebAgentUnconfigured(t *testing.T) {
	agentMachine(t)
	bins := realBinaries(t)
	deb, err := Deb("agent", Options{Version: "1.0.0", Arch: "amd64", Binary: bins.agent1, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	force := []string{"STEWARD_FORCE_START=1"}
	got := mustDpkg(t, force, "-i", deb)
	for _, want := range []string{
		"steward-agent is installed but not set up",
		agentBin + " install --server https://steward.example.com:8080 --enroll-secret-file " + agentSecret,
		agentBin + " start",
		"dpkg-reconfigure steward-agent",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dpkg -i output lacks %q:\n%s", want, got)
		}
	}
	if st := serviceStatus(t); st != 4 {
		t.Errorf("steward-agent status = %d, want 4 (not installed): an unconfigured agent must not be registered", st)
	}
	if exists(initScript) {
		t.Errorf("%s exists for an unconfigured agent", initScript)
	}
	if pids := agentPIDs(); len(pids) != 0 {
		t.Errorf("an unconfigured agent runs: %v", pids)
	}
	// The template is a valid configuration that lacks only the server:
	// run refuses it for that, not for its YAML.
	if b, err := exec.Command(agentBin, "run", "--config", agentConfig).CombinedOutput(); err == nil ||
		!strings.Contains(string(b), "server") || strings.Contains(string(b), "yaml:") {
		t.Errorf("steward-agent run --config %s: %v\n%s", agentConfig, err, b)
	}

	srv := startServer(t, bins.server)
	env := "# written by TestDebAgentUnconfigured\nSTEWARD_SERVER=\"" + srv.url + "\"\nexport STEWARD_ENROLL_SECRET='" + srv.enrollSecret(t) + "'\n"
	if err := os.WriteFile("/etc/steward/enroll.env", []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	got = mustFrontEnd(t, force, "dpkg-reconfigure", "steward-agent")
	if !strings.Contains(got, "took the server and enroll secret from /etc/steward/enroll.env") {
		t.Errorf("dpkg-reconfigure did not take enroll.env:\n%s", got)
	}
	t.Logf("service registration: %s", registration("steward-agent"))
	srv.waitHost(t, "the agent set up by enroll.env online", func(h apiHost) bool { return h.Online })
	if exists("/etc/steward/enroll.env") {
		t.Error("enroll.env is still there once taken")
	}
	if fi, err := os.Stat(agentSecret); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v, want mode 0600", agentSecret, fi, err)
	} else if s := strings.TrimSpace(readString(t, agentSecret)); s != srv.enrollSecret(t) {
		t.Errorf("%s holds %q, not the server's secret", agentSecret, s)
	}
	if c := readString(t, agentConfig); !strings.Contains(c, srv.url) {
		t.Errorf("%s does not name the server after install:\n%s", agentConfig, c)
	}

	mustDpkg(t, nil, "--purge", "steward-agent")
	for _, p := range agentPaths {
		if exists(p) {
			t.Errorf("%s is still there after dpkg --purge", p)
		}
	}
	if pids := agentPIDs(); len(pids) != 0 {
		t.Errorf("agent processes %v still run after dpkg --purge", pids)
	}
}

// TestDebServerLifecycle installs the server .deb: the steward user and
// group, the data directory, the registration; the configuration it ships
// is one the server accepts; purge deletes the data and keeps the user.
func TestDebServerLifecycle(t *testing.T) {
	requireRoot(t)
	lockMachine(t)
	paths := []string{"/usr/bin/steward-server", serverConfig, "/var/lib/steward", "/etc/init.d/steward-server",
		"/etc/systemd/system/steward-server.service", "/lib/systemd/system/steward-server.service"}
	var found []string
	if st := dpkgStatus("steward-server"); st != "" {
		found = append(found, "package steward-server ("+st+")")
	}
	for _, p := range paths {
		if exists(p) {
			found = append(found, p)
		}
	}
	if len(found) > 0 {
		t.Fatalf("steward-server is already on this machine (%s); this test installs and purges it for real: dpkg --purge steward-server first", strings.Join(found, ", "))
	}
	_, userErr := user.Lookup(serverUser)
	userExisted := userErr == nil
	etcExisted := exists(configDir)
	t.Cleanup(func() {
		if out, err := dpkg(nil, "--purge", "steward-server"); err != nil {
			t.Errorf("cleanup: dpkg --purge steward-server: %v\n%s", err, out)
		}
		for _, p := range paths {
			if exists(p) {
				t.Errorf("cleanup: %s was left behind; removing it", p)
				os.RemoveAll(p)
			}
		}
		logs, _ := filepath.Glob("/var/log/steward-server*")
		for _, p := range logs {
			os.RemoveAll(p)
		}
		if !userExisted {
			// The package keeps the user on purge, as Debian packages do;
			// the test removes the one it made.
			if out, err := exec.Command("userdel", serverUser).CombinedOutput(); err != nil {
				t.Errorf("cleanup: userdel %s: %v\n%s", serverUser, err, out)
			}
			exec.Command("groupdel", serverUser).Run() // gone with the user unless shared
		}
		if !etcExisted {
			os.Remove(configDir)
		}
	})

	bins := realBinaries(t)
	deb, err := Deb("server", Options{Version: "1.0.0", Arch: "amd64", Binary: bins.server, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Without STEWARD_FORCE_START: where policy-rc.d forbids starting
	// services the server is registered but not started, which also keeps
	// it off 127.0.0.1:8080 here.
	got := mustDpkg(t, nil, "-i", deb)
	if strings.Contains(got, "failed") {
		t.Errorf("dpkg -i printed a failure:\n%s", got)
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		t.Fatalf("no %s user after install: %v", serverUser, err)
	}
	fi, err := os.Stat("/var/lib/steward")
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o700 || strconv.Itoa(int(st.Uid)) != u.Uid {
		t.Errorf("/var/lib/steward: mode %v uid %d, want 0700 owned by %s (%s)", fi.Mode().Perm(), st.Uid, serverUser, u.Uid)
	}
	if fi, err := os.Stat(serverConfig); err != nil || fi.Mode().Perm() != 0o640 || strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)) != u.Gid {
		t.Errorf("%s: %v, want mode 0640 and group %s", serverConfig, err, serverUser)
	}
	t.Logf("service registration: %s", registration("steward-server"))
	if policyForbidsStart() {
		if !strings.Contains(got, "not starting the service") {
			t.Errorf("policy-rc.d forbids starting services, but the package did not say so:\n%s", got)
		}
		if st := binStatus(t, "/usr/bin/steward-server"); st != 3 {
			t.Errorf("steward-server status = %d, want 3 (registered, stopped)", st)
		}
	} else if st := binStatus(t, "/usr/bin/steward-server"); st != 0 && st != 3 {
		t.Errorf("steward-server status = %d, want 0 or 3 (registered)", st)
	}

	// The shipped configuration is one the server takes, and the steward
	// user can create its database in the data directory.
	migrate := exec.Command("/usr/bin/steward-server", "migrate", "--config", serverConfig)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	migrate.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	migrate.Dir = "/"
	if b, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("steward-server migrate --config %s as %s: %v\n%s", serverConfig, serverUser, err, b)
	}
	if !exists("/var/lib/steward/steward.db") {
		t.Fatal("migrate created no /var/lib/steward/steward.db")
	}

	mustDpkg(t, nil, "-r", "steward-server")
	if exists("/usr/bin/steward-server") || !exists(serverConfig) || !exists("/var/lib/steward/steward.db") {
		t.Errorf("after dpkg -r: binary %v, config %v, database %v; want gone, kept, kept",
			exists("/usr/bin/steward-server"), exists(serverConfig), exists("/var/lib/steward/steward.db"))
	}
	mustDpkg(t, nil, "--purge", "steward-server")
	for _, p := range paths {
		if exists(p) {
			t.Errorf("%s is still there after dpkg --purge", p)
		}
	}
	if _, err := user.Lookup(serverUser); err != nil {
		t.Errorf("purge removed the %s user: %v", serverUser, err)
	}
}
