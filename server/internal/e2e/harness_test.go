package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
)

// binDir holds the binaries built once for the whole package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "steward-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+"/",
		"github.com/steward-project/steward/agent/cmd/steward-agent",
		"github.com/steward-project/steward/server/cmd/steward-server",
		"github.com/steward-project/steward/server/cmd/stewardctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build binaries: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func bin(name string) string { return filepath.Join(binDir, name) }

// proc is a running binary whose output is kept for assertions and shown
// when the test fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns what the process printed so far.
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startPath(t, bin(name), nil, args...)
}

// startPath is start for any executable, with extra environment
// variables (NAME=value) on top of the test's own.
func startPath(t *testing.T, path string, env []string, args ...string) *proc {
	t.Helper()
	name := filepath.Base(path)
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("--- %s %s output:\n%s", name, strings.Join(args, " "), p.Output())
		}
	})
	return p
}

// stop sends SIGTERM and waits; it reports whether the exit was clean.
func (p *proc) stop(t *testing.T) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not exit within 30s of SIGTERM", p.name)
		return fmt.Errorf("killed")
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually polls cond every 100 ms until it holds or the deadline passes.
// The deadline is generous: it bounds a hung test, it does not measure speed.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s; last state: %s", within, what, last)
}

// consistently polls cond every 100 ms for the whole of d and fails the
// test the first time it does not hold: for "nothing more happens".
func consistently(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ok, state := cond(); !ok {
			t.Fatalf("%s stopped holding: %s", what, state)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// server is a running steward-server.
type server struct {
	*proc
	url     string
	dataDir string
	token   string
	// args and env are what it was started with, for restart.
	args     []string
	env      []string
	previous []*proc
}

func startServer(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, nil, db, extra...)
}

// startServerEnv is startServer with extra environment variables
// (NAME=value) for the server process.
func startServerEnv(t *testing.T, env []string, db string, extra ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	args := append([]string{"serve", "--listen", addr, "--db", db, "--data-dir", dataDir, "--log-level", "debug"}, extra...)
	s := &server{proc: startPath(t, bin("steward-server"), env, args...), url: "http://" + addr, dataDir: dataDir,
		args: args, env: env}
	s.waitReady(t)
	return s
}

// restart stops the server with SIGTERM and starts it again with the same
// flags, environment, address and data directory, so agents reconnect to
// it. Output of the stopped process is kept in outputs.
func (s *server) restart(t *testing.T) {
	t.Helper()
	if err := s.stop(t); err != nil {
		t.Fatalf("steward-server did not exit cleanly on SIGTERM: %v\n%s", err, s.Output())
	}
	s.previous = append(s.previous, s.proc)
	s.proc = startPath(t, bin("steward-server"), s.env, s.args...)
	s.waitReady(t)
}

// waitReady waits for /readyz and reads the admin token.
func (s *server) waitReady(t *testing.T) {
	t.Helper()
	eventually(t, 60*time.Second, "server ready", func() (bool, string) {
		if s.exited() {
			t.Fatalf("steward-server exited early: %v\n%s", s.err, s.Output())
		}
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	s.token = readSecret(t, filepath.Join(s.dataDir, "admin-token"))
}

// outputs is what every process of this server printed, earlier runs
// first.
func (s *server) outputs() string {
	var b strings.Builder
	for _, p := range s.previous {
		b.WriteString(p.Output())
	}
	b.WriteString(s.Output())
	return b.String()
}

func readSecret(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func (s *server) startAgent(t *testing.T, stateDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"run", "--server", s.url, "--enroll-secret-file", filepath.Join(s.dataDir, "enroll-secret"),
		"--state-dir", stateDir, "--log-level", "debug"}, extra...)
	return start(t, "steward-agent", args...)
}

// get calls the admin API and decodes JSON into v; it returns the status.
func (s *server) get(t *testing.T, path string, v any) int {
	t.Helper()
	return s.getWithToken(t, path, s.token, v)
}

func (s *server) getWithToken(t *testing.T, path, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", s.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: decode %v: %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// ctl runs stewardctl against s and returns its stdout.
func (s *server) ctl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin("stewardctl"), args...)
	cmd.Env = append(os.Environ(), "STEWARD_SERVER="+s.url, "STEWARD_TOKEN="+s.token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stewardctl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// metric returns the value of an unlabelled or fully labelled series from
// /metrics, e.g. `steward_agents_connected` or
// `steward_agent_messages_received_total{type="inventory"}`.
func (s *server) metric(t *testing.T, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, series+" "), "%g", &v)
			return v, true
		}
	}
	return 0, false
}
