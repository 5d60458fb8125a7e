package packaging

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain removes the binaries the tests built, once all have run.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{stubDir, realDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// requireTool fails the test when a command it needs is missing, naming
// the Debian package that has it (scripts/test-deps.sh installs them).
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it with `apt-get install -y %s` (scripts/test-deps.sh does)", name, debianPackage)
	}
	return p
}

// run runs a command and returns its standard output; a failure fails
// the test with everything the command printed.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// goBuild builds pkg (an import path, or a file) for linux/arch into
// out, with main.version set to version.
func goBuild(t *testing.T, dir, pkg, arch, version, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for %s: %v\n%s", pkg, arch, err, b)
	}
}

var (
	stubOnce sync.Once
	stubDir  string
	// realDir holds the real binaries the lifecycle tests build (Linux).
	realDir string
	stubErr string
)

// stubBinary returns a tiny Linux executable for arch, standing in for
// steward-agent and steward-server where only the package around it is
// under test (the lifecycle tests use the real ones).
func stubBinary(t *testing.T, arch string) string {
	t.Helper()
	stubOnce.Do(func() {
		dir, err := os.MkdirTemp("", "steward-packaging-stub-")
		if err != nil {
			stubErr = err.Error()
			return
		}
		stubDir = dir
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
			stubErr = err.Error()
			return
		}
		for _, a := range Archs {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, a), src)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a)
			if b, err := cmd.CombinedOutput(); err != nil {
				stubErr = "build stub for " + a + ": " + err.Error() + "\n" + string(b)
				return
			}
		}
	})
	if stubErr != "" {
		t.Fatal(stubErr)
	}
	return filepath.Join(stubDir, arch)
}

// testCA returns a PEM self-signed CA certificate.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Steward test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// fileEntry is one line of a package's file list.
type fileEntry struct {
	mode  string // ls-style, e.g. -rw-r--r--
	owner string // user/group
}

// debFiles lists a .deb's files with dpkg-deb -c, by absolute path;
// directories end in /.
func debFiles(t *testing.T, deb string) map[string]fileEntry {
	t.Helper()
	files := map[string]fileEntry{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		// -rw-r--r-- root/root 1157 2026-01-02 10:00 ./etc/steward/agent.yaml
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c %s: unexpected line %q", deb, line)
		}
		files[strings.TrimPrefix(f[5], ".")] = fileEntry{mode: f[0], owner: f[1]}
	}
	return files
}

// regularFiles keeps the entries that are not directories.
func regularFiles(files map[string]fileEntry) map[string]fileEntry {
	out := map[string]fileEntry{}
	for p, e := range files {
		if !strings.HasSuffix(p, "/") {
			out[p] = e
		}
	}
	return out
}
