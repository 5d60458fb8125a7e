package check

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/shared/policy"
)

// TestLiveMachine evaluates policies against the machine running the
// tests, which the project's test setup defines as Debian 12 with bash.
func TestLiveMachine(t *testing.T) {
	osRelease, err := os.ReadFile("/etc/os-release")
	if err != nil || !strings.Contains(string(osRelease), "\nID=debian\n") {
		t.Fatalf("this test needs the Debian machine the suite is specified for; /etc/os-release: %v\n%s", err, osRelease)
	}
	ctx := context.Background()
	doc := collect.Collect(ctx, collect.Config{})
	env := NewEnv(ctx, Config{AllowCommands: true}, doc)
	ps, err := policy.Parse("live.yaml", []byte(`policies:
  - id: bash-5
    title: bash 5 or later
    severity: low
    check: {package: {name: bash, installed: true, min_version: "5.0"}}
  - id: debian-release
    title: Debian
    severity: info
    platforms: [linux]
    check:
      all:
        - file: {path: /etc/os-release, matches: '(?m)^ID=debian$'}
        - expr: 'inventory.os.platform == "debian" && inventory.os.family == "debian"'
  - id: passwd-perms
    title: passwd is root's and not writable by others
    severity: high
    check: {file: {path: /etc/passwd, owner: root, mode_max: "0644"}}
  - id: kernel-name
    title: uname says Linux
    severity: info
    check: {command: {run: [uname, -s], output_matches: '^Linux\n$'}}
  - id: no-such-package
    title: a package nobody has
    severity: info
    check: {package: {name: steward-test-no-such-package, installed: true}}
  - id: windows-only
    title: not for Linux
    severity: info
    platforms: [windows]
    check: {registry: {key: 'HKLM\Software\X'}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]policy.Status{
		"bash-5": policy.StatusPass, "debian-release": policy.StatusPass, "passwd-perms": policy.StatusPass,
		"kernel-name": policy.StatusPass, "no-such-package": policy.StatusFail, "windows-only": policy.StatusNotApplicable,
	}
	for _, r := range policy.EvaluateAll(ctx, ps, env, 4) {
		if r.Status != want[r.PolicyID] {
			t.Errorf("%s: %s, want %s: %s %+v", r.PolicyID, r.Status, want[r.PolicyID], r.Error, r.Evidence)
		}
		if len(r.Evidence) == 0 {
			t.Errorf("%s: no evidence", r.PolicyID)
		}
	}
}
