package pkgdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds link resolution, as the kernel's ELOOP limit does.
const maxSymlinks = 40

var errSymlinkLoop = errors.New("too many levels of symbolic links")

// resolveIn returns the host path of name, an absolute path on the system
// whose root file system is at root, following symbolic links the way that
// system would: an absolute target starts again at root and ".." never
// climbs above it. Offline images and container roots are full of absolute
// links (/var/lib/rpm -> /usr/lib/sysimage/rpm, /snap ->
// /var/lib/snapd/snap) that would otherwise lead into the inspecting host.
// A missing component is not an error: the path is returned as it stands
// and opening it reports fs.ErrNotExist.
func resolveIn(root, name string) (string, error) {
	if root == "" || filepath.Clean(root) == "/" {
		return filepath.Clean("/" + name), nil
	}
	root = filepath.Clean(root)
	parts := splitPath(name)
	cur := "" // resolved path inside root, "" for root itself
	links := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			if cur == "." || cur == "/" {
				cur = ""
			}
			continue
		}
		next := cur + "/" + p
		fi, err := os.Lstat(root + next)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			if err != nil {
				// Nothing below a missing or unreadable component can be
				// resolved; the caller's open reports why.
				return filepath.Join(append([]string{root, cur}, parts...)...), nil
			}
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("resolve %s: %w", name, errSymlinkLoop)
		}
		target, err := os.Readlink(root + next)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", name, err)
		}
		if strings.HasPrefix(target, "/") {
			cur = ""
		}
		parts = append(splitPath(target), parts...)
	}
	return root + cur, nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
