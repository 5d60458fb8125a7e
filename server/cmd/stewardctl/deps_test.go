package main

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are import path prefixes stewardctl must not link: it talks to
// the server over HTTP and needs only the API's request and response
// types, so server internals and database drivers would only make it
// bigger and couple its build to theirs.
var forbidden = []string{
	"github.com/steward-project/steward/server/internal/api",
	"github.com/steward-project/steward/server/internal/store",
	"github.com/steward-project/steward/server/internal/auth",
	"github.com/steward-project/steward/server/internal/gateway",
	"github.com/steward-project/steward/server/internal/ingest",
	"github.com/steward-project/steward/server/internal/alerting",
	"github.com/steward-project/steward/server/internal/limits",
	"github.com/jackc/",
	"modernc.org/sqlite",
}

// allowed are the exceptions under a forbidden prefix: the API's own types
// package and its client, and the pure matcher syntax silences use.
var allowed = []string{
	"github.com/steward-project/steward/server/internal/apitypes",
	"github.com/steward-project/steward/server/internal/apiclient",
	"github.com/steward-project/steward/server/internal/alerting/match",
}

func TestStewardctlLinksOnlyTheAPITypes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := strings.Fields(string(out))
	sawTypes := false
	for _, p := range pkgs {
		if p == allowed[0] {
			sawTypes = true
		}
		if isAllowed(p) {
			continue
		}
		// database/sql/driver is only interfaces, which uuid and semver
		// implement; database/sql itself would mean a database client.
		if p == "database/sql" {
			t.Errorf("stewardctl imports %s", p)
		}
		for _, f := range forbidden {
			if strings.HasPrefix(p, f) {
				t.Errorf("stewardctl imports %s", p)
			}
		}
	}
	if !sawTypes {
		t.Errorf("stewardctl does not import %s; the dependency list is not what this test expects:\n%s", allowed[0], out)
	}
}

func isAllowed(p string) bool {
	for _, a := range allowed {
		if p == a {
			return true
		}
	}
	return false
}
