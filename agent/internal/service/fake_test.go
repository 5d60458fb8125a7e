package service

import (
	"bytes"
	"testing"

	"github.com/steward-project/steward/shared/service/servicetest"
)

// harness runs steward-agent's service commands against a manager in
// memory.
type harness struct {
	t              *testing.T
	m              *servicetest.Manager
	admin          bool
	stdout, stderr bytes.Buffer
}

func newHarness(t *testing.T, platform string) *harness {
	return &harness{t: t, m: servicetest.New(platform), admin: true}
}

// run runs one command and returns its exit code; stdout and stderr hold
// only this command's output.
func (h *harness) run(cmd string, args ...string) int {
	h.stdout.Reset()
	h.stderr.Reset()
	tool := NewAgentTool("steward-agent", &h.stdout, &h.stderr, servicetest.Open(h.m, nil))
	tool.Admin = func() bool { return h.admin }
	code := tool.Run(cmd, args)
	h.t.Logf("%s %q -> exit %d\nstdout:\n%sstderr:\n%s", cmd, args, code, h.stdout.String(), h.stderr.String())
	return code
}
