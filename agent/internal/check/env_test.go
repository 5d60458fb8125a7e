//go:build !windows

package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// fixtureModes are set on the copy of testdata/root: git keeps only 0644
// and 0755.
var fixtureModes = map[string]fs.FileMode{
	"etc/shadow":                      0o640,
	"etc/ssh/sshd_config":             0o600,
	"etc/ssh/sshd_config.d/20-b.conf": 0o664,
	"usr/bin/sudo":                    0o755 | fs.ModeSetuid,
}

// fixtureOwner is the name the copied root's etc/passwd gives the uid
// running the test, which owns every copied file.
const fixtureOwner = "fixture-owner"

// fixtureRoot copies testdata/root (symbolic links as links) to a
// temporary directory, applies fixtureModes and writes etc/passwd.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	src := filepath.Join("testdata", "root")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy fixture: %v", err)
	}
	for name, mode := range fixtureModes {
		if err := os.Chmod(filepath.Join(dst, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	// The first entry for a uid wins, so this names the test's uid even
	// when it runs as root.
	passwd := fmt.Sprintf("%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\nroot:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
		fixtureOwner, os.Getuid(), os.Getgid())
	if err := os.WriteFile(filepath.Join(dst, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func evaluate(t *testing.T, env policy.Env, check string) policy.Result {
	t.Helper()
	ps, err := policy.Parse(t.Name()+".yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: "+check+"\n"))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return policy.Evaluate(context.Background(), ps[0], env)
}

func TestFilesUnderRoot(t *testing.T) {
	root := fixtureRoot(t)
	// A FIFO must be skipped, never read (reading would block), and a
	// file past the read limit is an error.
	if err := mkfifo(filepath.Join(root, "etc", "ssh", "sshd_config.d", "30-fifo.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "var", "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(root, "var", "log", "big.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(policy.MaxFileBytes + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	big.Close()

	// Every file's content may be quoted here: these cases are about
	// reading under a root (content_linux_test.go is about quoting).
	env := NewEnv(context.Background(), Config{Root: root, EvidenceContent: []string{"/**"}}, inventory.Document{})
	cases := []struct {
		name, check string
		want        policy.Status
		detail      string
	}{
		{"glob under root", `{file: {path: "/etc/ssh/sshd_config.d/*.conf", exists: true}}`, policy.StatusPass,
			"exists: /etc/ssh/sshd_config.d/10-a.conf, /etc/ssh/sshd_config.d/20-b.conf, /etc/ssh/sshd_config.d/30-fifo.conf"},
		{"relative symlink", `{file: {path: /etc/os-release, matches: '(?m)^ID=debian$'}}`, policy.StatusPass,
			`/etc/os-release:5: "ID=debian" matches`},
		{"absolute symlink stays in root", `{file: {path: /etc/localtime, matches: '^fixture UTC'}}`, policy.StatusPass,
			`/etc/localtime:1: "fixture UTC zone" matches`},
		{"dotdot symlink stays in root", `{file: {path: /etc/escape, matches: '(?m)^hello$'}}`, policy.StatusPass,
			`/etc/escape:1: "hello" matches`},
		{"dotdot path stays in root", `{file: {path: /../../../etc/hostname, matches: '(?m)^hello$'}}`, policy.StatusPass,
			`/etc/hostname:1: "hello" matches`},
		{"dangling symlink does not exist", `{file: {path: /etc/dangling, exists: false}}`, policy.StatusPass,
			"no file matches /etc/dangling"},
		{"regex over the file", `{file: {path: /etc/ssh/sshd_config, matches: '(?m)^\s*PermitRootLogin\s+no\b'}}`, policy.StatusPass,
			`/etc/ssh/sshd_config:4: "  PermitRootLogin no" matches`},
		{"offending drop-in, fifo skipped", `{file: {path: "/etc/ssh/sshd_config.d/*.conf", not_matches: '(?m)^PermitRootLogin yes'}}`, policy.StatusFail,
			`/etc/ssh/sshd_config.d/20-b.conf:2: "PermitRootLogin yes" matches not_matches (?m)^PermitRootLogin yes`},
		{"mode within", `{file: {path: /etc/shadow, mode_max: "0640"}}`, policy.StatusPass, "/etc/shadow: mode 0640 within 0640"},
		{"mode beyond", `{file: {path: /etc/shadow, mode_max: "0600"}}`, policy.StatusFail,
			"/etc/shadow: mode 0640 exceeds mode_max 0600 (extra bits 0040)"},
		{"setuid", `{file: {path: /usr/bin/sudo, mode_max: "0755"}}`, policy.StatusFail,
			"/usr/bin/sudo: mode 4755 exceeds mode_max 0755 (extra bits 4000)"},
		{"group-writable drop-in", `{file: {path: "/etc/ssh/sshd_config.d/*-*.conf", mode_max: "0644"}}`, policy.StatusFail,
			"/etc/ssh/sshd_config.d/20-b.conf: mode 0664 exceeds mode_max 0644 (extra bits 0020)"},
		{"owner from the root's passwd", `{file: {path: /etc/shadow, owner: ` + fixtureOwner + `}}`, policy.StatusPass,
			"/etc/shadow: owner " + fixtureOwner},
		{"owner by uid", fmt.Sprintf(`{file: {path: /etc/shadow, owner: "%d"}}`, os.Getuid()), policy.StatusPass,
			"/etc/shadow: owner " + fixtureOwner},
		{"owner wrong", `{file: {path: /etc/shadow, owner: alice}}`, policy.StatusFail,
			"/etc/shadow: owner " + fixtureOwner + ", want alice"},
		{"too large", `{file: {path: /var/log/big.log, not_matches: x}}`, policy.StatusError,
			"error: /var/log/big.log: file too large (over 16777216 bytes)"},
		{"registry elsewhere", `{registry: {key: 'HKLM\Software\X'}}`, policy.StatusError,
			`error: registry HKLM\Software\X: not available here: the registry is not available on ` + runtime.GOOS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := evaluate(t, env, c.check)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail {
				t.Errorf("status %s, evidence %+v\nwant %s, %q", r.Status, r.Evidence, c.want, c.detail)
			}
		})
	}
}

// Packages, services and ports come from the inventory document the agent
// collected, not from a second look at the system.
func TestInventoryLeaves(t *testing.T) {
	doc := inventory.Document{}
	doc.Sections = map[string]json.RawMessage{
		inventory.SectionSoftware: json.RawMessage(`{"packages":[{"name":"bash","version":"5.2.15-2+b8","source":"dpkg"}]}`),
		inventory.SectionServices: json.RawMessage(`{"services":[{"name":"ssh","state":"running","start_mode":"auto"}]}`),
	}
	doc.Errors = map[string]string{inventory.SectionPorts: "known only to the live kernel, not from a root file system"}
	env := NewEnv(context.Background(), Config{Root: fixtureRoot(t)}, doc)
	cases := []struct {
		check string
		want  policy.Status
	}{
		{`{package: {name: bash, min_version: "5.0"}}`, policy.StatusPass},
		{`{service: {name: ssh, running: true}}`, policy.StatusPass},
		{`{port: {listening: 22}}`, policy.StatusError},
		{`{expr: 'inventory.software.packages.exists(p, p.name == "bash")'}`, policy.StatusPass},
	}
	for _, c := range cases {
		if r := evaluate(t, env, c.check); r.Status != c.want {
			t.Errorf("%s: %s %+v, want %s", c.check, r.Status, r.Evidence, c.want)
		}
	}
	if env.Platform() != runtime.GOOS {
		t.Errorf("platform %s", env.Platform())
	}
}

func TestHostPath(t *testing.T) {
	root := fixtureRoot(t)
	if err := os.Symlink("loop-b", filepath.Join(root, "etc", "loop-a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop-a", filepath.Join(root, "etc", "loop-b")); err != nil {
		t.Fatal(err)
	}
	e := NewEnv(context.Background(), Config{Root: root}, inventory.Document{}).(*liveEnv)
	cases := map[string]string{
		"/etc/os-release":        "usr/lib/os-release",
		"/etc/localtime":         "usr/share/zoneinfo/UTC",
		"/etc/escape":            "etc/hostname",
		"/../../etc/shadow":      "etc/shadow",
		"etc/shadow":             "etc/shadow",
		"/etc/dangling":          "etc/nowhere",
		"/etc/ssh/../os-release": "usr/lib/os-release",
	}
	for in, want := range cases {
		got, err := e.hostPath(in)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("hostPath(%q) = %q, %v; want %q", in, got, err, filepath.Join(root, want))
		}
	}
	if _, err := e.hostPath("/etc/loop-a"); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("symlink loop: %v", err)
	}
	live := NewEnv(context.Background(), Config{Root: "/"}, inventory.Document{}).(*liveEnv)
	if got, _ := live.hostPath("/etc/../etc/os-release"); got != "/etc/os-release" || live.root != "" {
		t.Errorf("live hostPath = %q, root %q", got, live.root)
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
