package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/steward-project/steward/shared/policy"
)

// maxSymlinks bounds symbolic links followed while resolving one path
// under a root, as the kernel's ELOOP limit does.
const maxSymlinks = 40

// Glob expands pattern (a path on the checked system) under the root.
func (e *liveEnv) Glob(ctx context.Context, pattern string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pattern = cleanAbs(pattern)
	if e.root == "" {
		return filepath.Glob(pattern)
	}
	matches, err := filepath.Glob(filepath.Join(e.root, pattern))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		rel, err := filepath.Rel(e.root, m)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		out = append(out, string(filepath.Separator)+rel)
	}
	sort.Strings(out)
	return out, nil
}

// cleanAbs makes a policy path absolute and free of "..", so that joining
// it under a root cannot climb out.
func cleanAbs(p string) string {
	if filepath.VolumeName(p) != "" {
		return filepath.Clean(p)
	}
	return filepath.Clean(string(filepath.Separator) + p)
}

// hostPath maps a path on the checked system to one on this machine. Under
// a root, symbolic links are resolved by hand against the root: an image's
// /etc/localtime -> /usr/share/zoneinfo/UTC must not reach this machine's
// /usr.
func (e *liveEnv) hostPath(p string) (string, error) {
	p = cleanAbs(p)
	if e.root == "" {
		return p, nil
	}
	resolved := ""
	rest := strings.Split(strings.TrimPrefix(filepath.ToSlash(p), "/"), "/")
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			if resolved == "." || resolved == string(filepath.Separator) {
				resolved = ""
			}
			continue
		}
		next := resolved + "/" + name
		fi, err := os.Lstat(filepath.Join(e.root, next))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			// A missing component is reported by the caller's own stat.
			resolved = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(e.root, next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			resolved = ""
		}
		rest = append(strings.Split(filepath.ToSlash(target), "/"), rest...)
	}
	return filepath.Join(e.root, resolved), nil
}

// Stat follows symbolic links (under the root, by hostPath).
func (e *liveEnv) Stat(ctx context.Context, p string) (policy.FileStat, error) {
	if err := ctx.Err(); err != nil {
		return policy.FileStat{}, err
	}
	return e.stat(p, e.hostPath, os.Stat)
}

// stat maps p to this machine with resolve and describes it with statFn
// (os.Stat, or os.Lstat for a link itself), names from the checked root.
func (e *liveEnv) stat(p string, resolve func(string) (string, error), statFn func(string) (fs.FileInfo, error)) (policy.FileStat, error) {
	hp, err := resolve(p)
	if err != nil {
		return policy.FileStat{}, err
	}
	fi, err := statFn(hp)
	if errors.Is(err, fs.ErrNotExist) {
		return policy.FileStat{}, fmt.Errorf("%s: %w", p, policy.ErrNotFound)
	}
	if err != nil {
		return policy.FileStat{}, err
	}
	st := policy.FileStat{Mode: fi.Mode(), Size: fi.Size()}
	e.fillOwner(hp, fi, &st)
	return st, nil
}

// ReadFile refuses anything but regular files: reading a FIFO or a device
// named by a glob would block or never end.
func (e *liveEnv) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hp, err := e.hostPath(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(hp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, policy.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %w", p, policy.ErrFileTooLarge)
	}
	// The size may be wrong (procfs says 0) or grow while we read.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w", p, policy.ErrFileTooLarge)
	}
	return data, nil
}
