package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirHoldsTheDatabase: steward-server started with --data-dir and
// no --db keeps its SQLite database in that directory, not in ./data of
// its working directory. Two servers started from one directory with
// different data directories each have their own database and credential
// files.
func TestDataDirHoldsTheDatabase(t *testing.T) {
	cwd := t.TempDir()
	base := t.TempDir()
	var servers []*server
	for _, name := range []string{"one", "two"} {
		dir := filepath.Join(base, name)
		addr := freeAddr(t)
		p := startPath(t, "/bin/sh", nil, "-c", `cd "$0" && exec "$1" serve --listen "$2" --data-dir "$3"`,
			cwd, bin("steward-server"), addr, dir)
		s := &server{proc: p, url: "http://" + addr, dataDir: dir}
		s.waitReady(t)
		servers = append(servers, s)
		for _, f := range []string{"steward.db", "admin-token", "enroll-secret"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("server %s: %v", name, err)
			}
		}
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Errorf("the servers wrote into their working directory: %v", entries)
	}
	// Admin tokens live in the database: each server knows its own only.
	one, two := servers[0], servers[1]
	if one.token == two.token {
		t.Fatal("both servers have the same admin token")
	}
	for _, c := range []struct {
		s     *server
		token string
		want  int
	}{{one, one.token, 200}, {two, two.token, 200}, {one, two.token, 401}, {two, one.token, 401}} {
		if got := c.s.getWithToken(t, "/api/v1/hosts", c.token, nil); got != c.want {
			t.Errorf("GET %s/api/v1/hosts with the other server's token or its own: %d, want %d", c.s.url, got, c.want)
		}
	}
}
