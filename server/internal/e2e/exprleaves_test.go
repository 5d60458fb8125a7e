package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentExprLeavesAnsweredByServer: the agent links no CEL, so the
// server answers the expr leaves of the policies the agent evaluates. A
// policy mixing a file leaf with an expr over the inventory's ports
// follows a port opening and closing on this machine: the agent reports
// the port in its inventory, the server evaluates the expression against
// it and sends the answer, and the agent's result changes. A policy that
// its file leaf decides is reported without waiting for any answer.
func TestAgentExprLeavesAnsweredByServer(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "version", "-m", bin("steward-agent")).Output()
	if err != nil {
		t.Fatalf("go version -m steward-agent: %v", err)
	}
	for _, mod := range []string{"cel.dev/", "github.com/google/cel-go", "google.golang.org/protobuf"} {
		if strings.Contains(string(out), "\tdep\t"+mod) {
			t.Fatalf("the agent binary links %s:\n%s", mod, out)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"), "--inventory-interval", "1s")
	file := filepath.Join(t.TempDir(), "mixed.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`policies:
  - id: probe-port-listening
    title: The test's port is listening
    severity: low
    platforms: [linux]
    check:
      all:
        - file: {path: /etc/os-release, exists: true}
        - expr: inventory.ports.ports.exists(p, p.proto == "tcp" && p.port == %d)
  - id: decided-by-a-file
    title: A missing file decides before the expression
    severity: low
    check:
      all:
        - file: {path: /etc/steward-e2e-marker-that-does-not-exist, exists: true}
        - expr: inventory.ports.ports.exists(p, p.port == %d)
`, port, port)), 0o644)
	s.ctl(t, "policies", "apply", "-f", file)

	result := func(id string) (string, string) {
		var r policyResults
		raw := s.ctl(t, "-o", "json", "policies", "results", id)
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatalf("policies results %s: %v\n%s", id, err, raw)
		}
		if len(r.Results) != 1 {
			return "", raw
		}
		return r.Results[0].Status, raw
	}
	waitStatus := func(id, want string) string {
		t.Helper()
		var last string
		eventually(t, 90*time.Second, id+" "+want, func() (bool, string) {
			st, raw := result(id)
			last = raw
			return st == want, raw
		})
		return last
	}
	raw := waitStatus("decided-by-a-file", "fail")
	if strings.Contains(raw, "awaiting") {
		t.Errorf("a result decided by its file leaf waited for the server:\n%s", raw)
	}
	raw = waitStatus("probe-port-listening", "pass")
	// The expr leaf's evidence is the server's: the expression and its value.
	if !strings.Contains(raw, fmt.Sprintf(`p.port == %d) =\u003e true`, port)) && !strings.Contains(raw, fmt.Sprintf(`p.port == %d) => true`, port)) {
		t.Errorf("evidence does not show the server's answer:\n%s", raw)
	}

	ln.Close()
	waitStatus("probe-port-listening", "fail")

	ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on %d again: %v", port, err)
	}
	defer ln.Close()
	waitStatus("probe-port-listening", "pass")
}
