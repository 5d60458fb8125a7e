package collect

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"

	"github.com/steward-project/steward/agent/internal/collect/wininv"
)

// bitLockerStatus runs `manage-bde -status` from the system directory, by
// full path so that nothing on PATH can stand in for it when the agent
// runs as SYSTEM, and parses its report (see wininv.ParseManageBDE). It
// needs administrator rights and exits non-zero without them.
func bitLockerStatus(ctx context.Context) (map[string]*bool, error) {
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		return nil, fmt.Errorf("system directory: %w", err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "manage-bde.exe"), "-status")
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: windows.CREATE_NO_WINDOW}
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		// The reason ("ERROR: An attempt to access a required resource
		// was denied.") is on stdout, after the banner.
		return nil, fmt.Errorf("manage-bde: %w: %s", err, lastLine(out))
	}
	if err != nil {
		return nil, fmt.Errorf("manage-bde: %w", err)
	}
	return wininv.ParseManageBDE(string(out)), nil
}

func lastLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
