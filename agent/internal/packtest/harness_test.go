//go:build linux

package packtest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestHarnessRunsASmallPack runs the harness on a three-policy pack whose
// fixtures cover content, modes, owners, removed files and packages.
func TestHarnessRunsASmallPack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("fixture systems own files as root and other accounts: run the tests as root")
	}
	dir := filepath.Join("testdata", "selftest")
	runPack(t, dir, filepath.Join(dir, "testdata"))
}

// TestBuildWritesWhatTheFixtureSays checks a built root with the operating
// system's own view of it, independently of the agent's Env.
func TestBuildWritesWhatTheFixtureSays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("fixture systems own files as root and other accounts: run the tests as root")
	}
	root := build(t, fixture{
		Files: map[string]fileAt{
			"/etc/shadow":                   {Content: "x\n", Mode: "0640", Group: "shadow"},
			"/tmp":                          {Dir: true, Mode: "1777"},
			"/usr/bin/su":                   {Content: "", Mode: "4755"},
			"/etc/systemd/system/x.service": {Link: "/dev/null"},
			"/etc/os-release":               {Absent: true},
			"/home/alice/.bashrc":           {Content: "umask 027\n", Owner: "alice", Group: "alice"},
		},
		Packages: []string{"nftables=1.0.6-2+deb12u2"},
	})
	st := func(p string) *syscall.Stat_t {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t)
	}
	if s := st("/etc/shadow"); s.Mode&0o7777 != 0o640 || s.Uid != 0 || s.Gid != 42 {
		t.Errorf("/etc/shadow: mode %o uid %d gid %d; want 0640 root:shadow(42)", s.Mode&0o7777, s.Uid, s.Gid)
	}
	if s := st("/tmp"); s.Mode&0o7777 != 0o1777 || s.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Errorf("/tmp: mode %o; want a directory 1777", s.Mode)
	}
	if s := st("/usr/bin/su"); s.Mode&0o7777 != 0o4755 {
		t.Errorf("/usr/bin/su: mode %o; want 4755", s.Mode&0o7777)
	}
	if target, err := os.Readlink(filepath.Join(root, "/etc/systemd/system/x.service")); err != nil || target != "/dev/null" {
		t.Errorf("x.service link: %q, %v", target, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "/etc/os-release")); !os.IsNotExist(err) {
		t.Errorf("/etc/os-release: %v; want it removed", err)
	}
	if s := st("/home/alice/.bashrc"); s.Uid != 1000 || s.Gid != 1000 {
		t.Errorf(".bashrc: uid %d gid %d; want alice (1000:1000)", s.Uid, s.Gid)
	}
	status, err := os.ReadFile(filepath.Join(root, "/var/lib/dpkg/status"))
	if err != nil || !containsAll(string(status), "Package: nftables\n", "Version: 1.0.6-2+deb12u2\n", "Status: install ok installed\n") {
		t.Errorf("dpkg status: %q, %v", status, err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
