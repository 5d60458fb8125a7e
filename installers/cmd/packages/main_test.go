package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestPackages runs the program on stand-in binaries (-bin-dir) and
// checks dist: every package, named by the converted version, earlier
// artefacts gone, and a SHA256SUMS that sha256sum -c accepts.
func TestPackages(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Fatal("sha256sum not found: install it with `apt-get install -y coreutils`")
	}
	bin := t.TempDir()
	src := filepath.Join(bin, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		dir := filepath.Join(bin, "linux_"+arch)
		for _, name := range []string{"steward-agent", "steward-server"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), src)
			cmd.Dir = bin
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build stand-in: %v\n%s", err, out)
			}
		}
	}
	dist := t.TempDir()
	for _, f := range []string{"steward-agent_0.1.0-1_amd64.deb", "SHA256SUMS", "notes.txt"} {
		os.WriteFile(filepath.Join(dist, f), []byte("old"), 0o644)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"-version", "v1.2.0-3-g1a2b3c4", "-out", dist, "-bin-dir", bin}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	entries, _ := os.ReadDir(dist)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{
		"SHA256SUMS", "notes.txt",
		"steward-agent-1.2.0+git3.1a2b3c4-1.aarch64.rpm", "steward-agent-1.2.0+git3.1a2b3c4-1.x86_64.rpm",
		"steward-agent_1.2.0+git3.1a2b3c4-1_amd64.deb", "steward-agent_1.2.0+git3.1a2b3c4-1_arm64.deb",
		"steward-server-1.2.0+git3.1a2b3c4-1.aarch64.rpm", "steward-server-1.2.0+git3.1a2b3c4-1.x86_64.rpm",
		"steward-server_1.2.0+git3.1a2b3c4-1_amd64.deb", "steward-server_1.2.0+git3.1a2b3c4-1_arm64.deb",
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dist holds\n %q\nwant\n %q", got, want)
	}

	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(sums), "\n"); n != 8 {
		t.Errorf("SHA256SUMS has %d lines, want 8:\n%s", n, sums)
	}
	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
	if !strings.Contains(stdout.String(), "package version 1.2.0+git3.1a2b3c4") {
		t.Errorf("output does not name the package version:\n%s", stdout.String())
	}
}

func TestPackagesUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage") {
		t.Errorf("no -version: exit %d, %q", code, stderr.String())
	}
	if code := run([]string{"-version", "1a2b3c4", "-commits", "7", "-out", t.TempDir(), "-bin-dir", t.TempDir()}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stdout.String(), "package version 0.0.0~git7.1a2b3c4") {
		t.Errorf("-commits 7: exit %d, %q", code, stdout.String())
	}
	if code := run([]string{"-version", "not a version", "-out", t.TempDir(), "-bin-dir", t.TempDir()}, &stdout, &stderr); code != 1 {
		t.Errorf("bad version: exit %d", code)
	}
}
