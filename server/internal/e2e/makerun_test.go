package e2e

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMakeRunAddress: `make run` takes PORT= and honours STEWARD_LISTEN,
// passing both to scripts/run.sh, which starts the server and an agent
// there.
func TestMakeRunAddress(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("make", "-n", "-C", root, "run", "PORT=18123", "STEWARD_LISTEN=127.0.0.1:18124").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PORT='18123'") || !strings.Contains(string(out), "STEWARD_LISTEN='127.0.0.1:18124'") {
		t.Errorf("make run does not pass PORT and STEWARD_LISTEN to scripts/run.sh:\n%s", out)
	}

	for _, c := range []struct {
		name string
		env  func(addr string) []string
	}{
		{"PORT", func(addr string) []string { _, port, _ := net.SplitHostPort(addr); return []string{"PORT=" + port} }},
		{"STEWARD_LISTEN", func(addr string) []string { return []string{"STEWARD_LISTEN=" + addr} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := freeAddr(t)
			data := filepath.Join(t.TempDir(), "data")
			env := append(c.env(addr), "BIN="+binDir, "DATA="+data, "DB=", "CONFIG=")
			p := startPath(t, filepath.Join(root, "scripts", "run.sh"), env)
			s := &server{proc: p, url: "http://" + addr, dataDir: data}
			eventually(t, 60*time.Second, "scripts/run.sh saying the server runs at "+addr, func() (bool, string) {
				if p.exited() {
					t.Fatalf("scripts/run.sh exited: %v\n%s", p.err, p.Output())
				}
				return strings.Contains(p.Output(), "Steward is running.") && strings.Contains(p.Output(), "http://"+addr+"/api/v1/hosts"), p.Output()
			})
			s.waitReady(t)
			var hosts hostsResponse
			eventually(t, 60*time.Second, "the agent run.sh started reporting", func() (bool, string) {
				s.get(t, "/api/v1/hosts", &hosts)
				return len(hosts.Hosts) == 1, p.Output()
			})
		})
	}
}
