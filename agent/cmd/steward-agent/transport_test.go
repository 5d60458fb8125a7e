package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `run` refuses plain http:// to another machine at start, naming the
// setting that accepts it, and the usage shows the safe ways to give the
// enroll secret.
func TestRunRefusesPlainHTTP(t *testing.T) {
	agent := buildAgent(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An agent that did not refuse would run on, retrying: the context
	// stops it so that the test fails instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, agent, "run", "--server", "http://192.0.2.10:8080", "--enroll-secret-file", secret,
		"--state-dir", filepath.Join(dir, "state"))
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), "plain http://") ||
		!strings.Contains(stderr.String(), "insecure_http: true") {
		t.Errorf("%v, stderr %q: want exit 2 naming insecure_http: true", err, stderr.String())
	}
	stdout, _, code := runAgent(t, agent, "help")
	if code != 0 || !strings.Contains(stdout, "--enroll-secret-file FILE") || !strings.Contains(stdout, "STEWARD_ENROLL_SECRET") {
		t.Errorf("usage does not show the safe secret forms:\n%s", stdout)
	}
}
