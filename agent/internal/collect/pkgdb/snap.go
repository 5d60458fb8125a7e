package pkgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/shared/inventory"
)

// snapMountDirs are where snapd mounts snaps: /snap on Debian and Ubuntu,
// /var/lib/snapd/snap on Fedora, Arch and others (where /snap, if present,
// is a link to it).
var snapMountDirs = []string{"/snap", "/var/lib/snapd/snap"}

// Snap lists the installed snaps from their mount directory:
// <mount>/<name>/current is a link to the active revision, and
// <mount>/<name>/<revision>/meta/snap.yaml, inside the mounted image,
// gives the version and architectures. This costs two small reads per
// snap, where snapd's state.json (the only other record of versions, and
// of publishers) is megabytes of JSON; the publisher is therefore left
// empty. On an offline root the images are not mounted, so a snap's
// version is unknown there and left empty. The install time is when the
// current link last changed: the install or the last refresh. The error
// wraps fs.ErrNotExist on a system without snaps.
func Snap(ctx context.Context, root string) ([]inventory.Package, error) {
	for _, d := range snapMountDirs {
		dir, err := resolveIn(root, d)
		if err != nil {
			return nil, fmt.Errorf("snap: %w", err)
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("snap: %w", err)
		}
		var out []inventory.Package
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p, ok, err := readSnap(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("snap %s: %w", e.Name(), err)
			}
			if ok {
				out = append(out, p)
			}
		}
		SortPackages(out)
		return out, nil
	}
	return nil, fmt.Errorf("snap: no snap mount directory: %w", fs.ErrNotExist)
}

// snapYAML is the part of meta/snap.yaml read here.
type snapYAML struct {
	Name          string   `yaml:"name"`
	Version       string   `yaml:"version"`
	Architectures []string `yaml:"architectures"`
}

// readSnap reads one snap directory; ok is false for entries that are not
// snaps (/snap/bin, README).
func readSnap(dir string) (inventory.Package, bool, error) {
	link := filepath.Join(dir, "current")
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return inventory.Package{}, false, nil
	}
	rev, err := os.Readlink(link)
	if err != nil {
		return inventory.Package{}, false, err
	}
	p := inventory.Package{
		// The directory is the instance name ("foo_beta" for a parallel
		// install), which is how snap list names it.
		Name:        filepath.Base(dir),
		Source:      inventory.SourceSnap,
		InstallTime: fi.ModTime().UTC().Truncate(time.Second),
	}
	// The link is relative ("1234"); joining keeps it inside dir either way.
	data, err := os.ReadFile(filepath.Join(dir, filepath.Base(rev), "meta", "snap.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return p, true, nil // not mounted: an offline image
	}
	if err != nil {
		return p, false, err
	}
	var y snapYAML
	if yaml.Unmarshal(data, &y) != nil {
		// snapd would not have mounted a snap with a broken snap.yaml; if
		// the file is damaged since, the snap is still installed.
		return p, true, nil
	}
	p.Version = y.Version
	if len(y.Architectures) == 1 {
		p.Arch = y.Architectures[0]
	}
	return p, true, nil
}
