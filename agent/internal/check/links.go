package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/steward-project/steward/shared/policy"
)

// linkHostPath maps a path on the checked system to one on this machine
// without resolving its last element: the directories leading to it are
// resolved under the root (hostPath), the name itself is kept, so that
// Lstat and Readlink see a symbolic link rather than its target.
func (e *liveEnv) linkHostPath(p string) (string, error) {
	p = cleanAbs(p)
	dir, base := filepath.Split(p)
	if base == "" || e.root == "" {
		return e.hostPath(p)
	}
	hd, err := e.hostPath(dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(hd, base), nil
}

// Lstat describes the file at p without following a final symbolic link
// (policy.LinkEnv). Links in the directories above it are followed, under
// the root.
func (e *liveEnv) Lstat(ctx context.Context, p string) (policy.FileStat, error) {
	if err := ctx.Err(); err != nil {
		return policy.FileStat{}, err
	}
	return e.stat(p, e.linkHostPath, os.Lstat)
}

// Readlink returns the target of the symbolic link at p as written
// (policy.LinkEnv). Under a root an absolute target names a path inside
// the image; it is returned as is, never resolved on this machine.
func (e *liveEnv) Readlink(ctx context.Context, p string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	hp, err := e.linkHostPath(p)
	if err != nil {
		return "", err
	}
	target, err := os.Readlink(hp)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", p, policy.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("readlink %s: %w", p, err)
	}
	return target, nil
}
