//go:build linux

package packaging

import (
	"encoding/json"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStewardctlPackageDeb is what an admin does to put a Linux machine
// online: `stewardctl package deb` with the server's URL, its enroll
// secret and labels, then `dpkg -i` of the file it printed. The host must
// then be listed online by `stewardctl hosts list`, with its labels, and
// nothing else done. Where this machine's policy-rc.d forbids packages
// to start services (a container), the test sets STEWARD_FORCE_START=1,
// the documented override; elsewhere the package starts the agent itself.
func TestStewardctlPackageDeb(t *testing.T) {
	agentMachine(t)
	bins := realBinaries(t)
	ctl := filepath.Join(t.TempDir(), "stewardctl")
	build := exec.Command("go", "build", "-o", ctl, "github.com/steward-project/steward/server/cmd/stewardctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build stewardctl: %v\n%s", err, out)
	}
	srv := startServer(t, bins.server)
	out := t.TempDir()
	pkg := exec.Command(ctl, "--server", srv.url, "package", "deb",
		"--enroll-secret-file", filepath.Join(srv.dataDir, "enroll-secret"),
		"--agent-binary", bins.agent1, "--version", "1.0.0", "--labels", "team=web,site=paris", "--out", out)
	printed, err := pkg.Output()
	if err != nil {
		t.Fatalf("stewardctl package deb: %v\n%s", err, stderrOf(err))
	}
	deb := strings.TrimSpace(string(printed))
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("stewardctl printed %q, want the .deb's path", deb)
	}

	var env []string
	if policyForbidsStart() {
		env = []string{"STEWARD_FORCE_START=1"}
	}
	mustDpkg(t, env, "-i", deb)

	hosts := func(args ...string) string {
		cmd := exec.Command(ctl, append([]string{"--server", srv.url, "--token", srv.token}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("stewardctl %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
		}
		return string(b)
	}
	var id string
	waitFor(t, "the host online in stewardctl hosts list", func() (bool, string) {
		list := hosts("hosts", "list")
		for _, line := range strings.Split(list, "\n")[1:] {
			f := strings.Fields(line)
			if len(f) >= 5 && f[4] == "yes" {
				id = f[0]
				return true, list
			}
		}
		return false, list
	})
	// The labels, through the API (the host labels endpoint).
	req, _ := http.NewRequest(http.MethodGet, srv.url+"/api/v1/hosts/"+id+"/labels", nil)
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET labels: %s, %v", resp.Status, err)
	}
	if want := map[string]string{"team": "web", "site": "paris"}; !maps.Equal(got.Labels, want) {
		t.Errorf("host %s labels = %v, want the package's %v", id, got.Labels, want)
	}
}

// stderrOf returns what a failed command wrote to stderr, if recorded.
func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
