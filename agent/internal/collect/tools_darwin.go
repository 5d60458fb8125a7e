package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/steward-project/steward/agent/internal/collect/macinv"
)

// macOS keeps some facts in no file an unprivileged reader may open
// (FileVault, SIP, the serial number, which jobs launchd is running, who
// listens on which port); for those the collectors run Apple's own tools,
// by absolute path so that no PATH entry can stand in for them, with a
// fixed environment so that their output is the documented English one.
const (
	ioregPath     = "/usr/sbin/ioreg"
	fdesetupPath  = "/usr/bin/fdesetup"
	csrutilPath   = "/usr/bin/csrutil"
	launchctlPath = "/bin/launchctl"
	lsofPath      = "/usr/sbin/lsof"
)

var toolEnv = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "LANG=C"}

// runTool runs a tool and returns its standard output, which it also
// returns alongside an exit error: lsof, for one, exits 1 on an empty
// answer.
func runTool(ctx context.Context, path string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = toolEnv
	cmd.Dir = "/"
	// A tool that leaves a child holding its output open must not hold up
	// the collector past its own timeout.
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", filepath.Base(path), err, bytes.TrimSpace(firstBytes(stderr.Bytes(), 200)))
	}
	return out, nil
}

func firstBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// exitCode is the tool's exit status, or -1 when it did not exit normally.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// macSystem is the tree the darwin collectors read files from.
func macSystem(cfg Config) macinv.System {
	return macinv.System{Root: cfg.Root, Logger: cfg.Logger}
}

// offline reports whether Root is another system's files, where the tools
// above would describe the wrong machine.
func offline(cfg Config) bool { return filepath.Clean(cfg.Root) != "/" }
