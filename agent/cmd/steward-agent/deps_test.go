package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// forbidden are import path prefixes the agent must never link: server
// code and database drivers make the agent bigger and widen what an
// attacker on an endpoint could reach. CEL and the protobuf runtime it
// needs would add megabytes to the agent's steady memory: the server
// answers the agent's expr leaves.
var forbidden = []string{
	"github.com/steward-project/steward/server",
	"github.com/steward-project/steward/shared/policy/celexpr",
	"cel.dev/",
	"github.com/google/cel-go",
	"google.golang.org/protobuf",
	"database/sql",
	"github.com/jackc/",
	"modernc.org/sqlite",
	"modernc.org/libc",
	"github.com/mattn/go-sqlite3",
	"github.com/lib/pq",
}

func TestAgentLinksNoServerOrDatabaseCode(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", ".")
			cmd.Env = append(cmd.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps: %v", err)
			}
			pkgs := strings.Fields(string(out))
			if len(pkgs) < 10 {
				t.Fatalf("go list printed only %d packages", len(pkgs))
			}
			for _, p := range pkgs {
				for _, f := range forbidden {
					if strings.HasPrefix(p, f) {
						t.Errorf("agent imports %s", p)
					}
				}
			}
		})
	}
}

// TestAgentBinaryModules checks the built binary itself: its embedded
// module list must hold no database driver.
func TestAgentBinaryModules(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "steward-agent")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	if !strings.Contains(string(out), "github.com/steward-project/steward") {
		t.Fatalf("module list does not name the agent's own module:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "dep" {
			continue
		}
		for _, bad := range forbidden {
			if strings.HasPrefix(f[1], bad) {
				t.Errorf("agent binary links module %s", f[1])
			}
		}
	}
}
