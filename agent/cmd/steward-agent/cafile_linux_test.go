package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writePrivateCA writes a CA certificate and a server certificate and key
// for 127.0.0.1 signed by it, as PEM files in dir.
func writePrivateCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "steward test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "steward test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return caFile, certFile, keyFile
}

// agentProc is a running `steward-agent run` whose stderr is read line by
// line.
type agentProc struct {
	cmd   *exec.Cmd
	lines chan string
}

func startAgent(t *testing.T, bin string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		defer close(a.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return a
}

// waitLog waits for the agent's next log line containing what.
func (a *agentProc) waitLog(t *testing.T, what string) string {
	t.Helper()
	for line := range a.lines {
		if strings.Contains(line, what) {
			return line
		}
	}
	t.Fatalf("steward-agent exited before logging %q", what)
	return ""
}

// stop sends SIGTERM, as a service manager does, and expects a clean exit
// after the agent's stop.
func (a *agentProc) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	a.waitLog(t, "msg=stopped")
	for range a.lines {
	}
	if err := a.cmd.Wait(); err != nil {
		t.Errorf("steward-agent after SIGTERM: %v", err)
	}
}

// TestRunCAFile runs the agent against a real steward-server serving TLS
// with a certificate from a private CA: with --ca-file naming that CA it
// connects, without it it says in its log what to set, and a file that is
// not PEM is refused at start.
func TestRunCAFile(t *testing.T) {
	agent := buildAgent(t)
	dir := t.TempDir()
	caFile, cert, key := writePrivateCA(t, dir)
	srv := startServer(t, buildServer(t), filepath.Join(dir, "data"), "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("server url %s", srv.url)
	}
	secret := filepath.Join(srv.dataDir, "enroll-secret")

	trusted := startAgent(t, agent, "--server", srv.url, "--enroll-secret-file", secret,
		"--state-dir", filepath.Join(dir, "trusted"), "--ca-file", caFile)
	trusted.waitLog(t, "msg=connected")
	srv.waitLog(t, "agent connected")
	trusted.stop(t)
	srv.waitLog(t, "agent closed connection")

	untrusted := startAgent(t, agent, "--server", srv.url, "--enroll-secret-file", secret,
		"--state-dir", filepath.Join(dir, "untrusted"))
	line := untrusted.waitLog(t, "connection failed")
	if !strings.Contains(line, "certificate signed by unknown authority") || !strings.Contains(line, "set ca_file to the PEM file of the CA that signed it") {
		t.Errorf("the agent does not say why it cannot connect: %s", line)
	}
	untrusted.stop(t)

	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o644)
	_, stderr, code := runAgent(t, agent, "run", "--server", srv.url, "--enroll-secret", "x",
		"--state-dir", filepath.Join(dir, "bad"), "--ca-file", notPEM)
	if code != 2 || !strings.Contains(stderr, "ca_file "+notPEM+": no PEM certificate in it") {
		t.Errorf("bad ca_file: exit %d, stderr %q", code, stderr)
	}
}

// Service commands need no root to report bad usage.
func TestServiceCommandUsage(t *testing.T) {
	agent := buildAgent(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"reload"}, "unknown command"},
		{[]string{"status", "--bogus"}, "flag provided but not defined"},
		{[]string{"uninstall", "now"}, "unexpected argument"},
		{[]string{"start", "--service-manager", "upstart"}, "unknown service manager \"upstart\""},
		{[]string{"install", "--service-manager", "runit"}, "unknown service manager \"runit\""},
	} {
		_, stderr, code := runAgent(t, agent, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("steward-agent %s: exit %d, want 2 and %q\n%s", strings.Join(c.args, " "), code, c.want, stderr)
		}
	}
	if _, stderr, _ := runAgent(t, agent, "reload"); !strings.Contains(stderr, "unknown command \"reload\"") || !strings.Contains(stderr, "uninstall | start | stop | restart") {
		t.Errorf("unknown command does not print the usage:\n%s", stderr)
	}
}
