package ctl_test

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageRefuses checks the mistakes `stewardctl package` explains
// with a usage error (exit 2) before building anything.
func TestPackageRefuses(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no server", nil, []string{"package", "deb", "--enroll-secret-file", secret}, "--server"},
		{"no secret", nil, []string{"--server", "https://steward.example.com", "package", "deb"}, "--enroll-secret-file is required"},
		{"unknown kind", nil, []string{"--server", "https://steward.example.com", "package", "apk", "--enroll-secret-file", secret}, `unknown installer "apk"`},
		{"bad labels", nil, []string{"--server", "https://steward.example.com", "package", "deb", "--enroll-secret-file", secret, "--labels", "my team=web"}, "--labels"},
		{"another OS without a binary", map[string]string{"STEWARD_SERVER": "https://steward.example.com"},
			[]string{"package", "msi", "--enroll-secret-file", secret}, "needs --agent-binary"},
		{"no argument", nil, []string{"--server", "https://steward.example.com", "package"}, "takes 1 argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, c.want)
			}
			if r.stdout != "" {
				t.Errorf("printed %q, want nothing", r.stdout)
			}
		})
	}
	r := run(t, nil, "--server", "https://steward.example.com", "package", "deb", "--enroll-secret-file", filepath.Join(dir, "missing"))
	if r.code != 1 || !strings.Contains(r.stderr, "enroll secret") {
		t.Errorf("missing secret file: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestPackageDeb builds a configured .deb from a real agent binary and
// reads it back with dpkg-deb: the enrollment is inside, the secret file
// is readable by root only, and the package says its version.
func TestPackageDeb(t *testing.T) {
	dpkgDeb, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Fatal("dpkg-deb is needed to read the package back: apt-get install -y dpkg")
	}
	dir := t.TempDir()
	agent := filepath.Join(dir, "steward-agent")
	build := exec.Command("go", "build", "-o", agent, "github.com/steward-project/steward/agent/cmd/steward-agent")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret-enroll\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "--server", "https://steward.example.com:8443", "package", "deb", "--arch", "arm64",
		"--agent-binary", agent, "--enroll-secret-file", secret, "--version", "1.4.0", "--out", out)
	if r.code != 0 {
		t.Fatalf("package deb: exit %d\n%s", r.code, r.stderr)
	}
	deb := strings.TrimSpace(r.stdout)
	if filepath.Dir(deb) != out || !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("printed %q, want a .deb in %s", deb, out)
	}
	info, err := exec.Command(dpkgDeb, "-f", deb, "Package", "Version", "Architecture").Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v", err)
	}
	for _, want := range []string{"Package: steward-agent", "Version: 1.4.0", "Architecture: arm64"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("control fields %q lack %q", info, want)
		}
	}
	root := filepath.Join(dir, "root")
	if out, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "etc/steward/agent.yaml"))
	if err != nil || !strings.Contains(string(cfg), "https://steward.example.com:8443") {
		t.Errorf("agent.yaml = %q, %v; want the server URL", cfg, err)
	}
	got, err := os.ReadFile(filepath.Join(root, "etc/steward/enroll-secret"))
	if err != nil || strings.TrimSpace(string(got)) != "s3cret-enroll" {
		t.Errorf("enroll-secret = %q, %v", got, err)
	}
	listing, err := exec.Command(dpkgDeb, "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(listing), "\n") {
		if strings.HasSuffix(line, "./etc/steward/enroll-secret") && !strings.HasPrefix(line, "-rw-------") {
			t.Errorf("enroll-secret is not readable by root only: %s", line)
		}
	}
}

// TestPackageMacOSLabels builds a configured macOS tarball with --labels:
// its enroll.env, which install.sh reads, carries them.
func TestPackageMacOSLabels(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, "steward-agent")
	build := exec.Command("go", "build", "-o", agent, "github.com/steward-project/steward/agent/cmd/steward-agent")
	build.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret-enroll\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "--server", "https://steward.example.com:8443", "package", "macos", "--arch", "arm64",
		"--agent-binary", agent, "--enroll-secret-file", secret, "--version", "1.4.0", "--out", dir,
		"--labels", "team=web,site=paris")
	if r.code != 0 {
		t.Fatalf("package macos: exit %d\n%s", r.code, r.stderr)
	}
	f, err := os.Open(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no enroll.env in the tarball: %v", err)
		}
		if filepath.Base(h.Name) != "enroll.env" {
			continue
		}
		env, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(env), "\nSTEWARD_LABELS=site=paris,team=web\n") {
			t.Errorf("enroll.env lacks the labels:\n%s", env)
		}
		return
	}
}
