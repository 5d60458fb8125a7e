package pkgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// flatpakSystemDir is flatpak's system-wide installation.
const flatpakSystemDir = "/var/lib/flatpak"

// Flatpak lists the applications and runtimes of the system-wide flatpak
// installation (per-user installations are not read). Each deployed ref
// is a directory <kind>/<id>/<arch>/<branch>/active, whose "deploy" file
// (a GVariant of type (ssasta{sv})) records the remote it came from and
// the version from the app's AppStream data: what `flatpak list` shows in
// its Origin and Version columns. The origin is reported as the publisher.
// Where the deploy data has no version, as for most runtimes, the branch
// ("stable", "23.08") stands in, so that two branches of one runtime stay
// two distinct entries. The install time is the deploy file's
// modification time: the install or the last update. The error wraps
// fs.ErrNotExist on a system without flatpak.
func Flatpak(ctx context.Context, root string) ([]inventory.Package, error) {
	base, err := resolveIn(root, flatpakSystemDir)
	if err != nil {
		return nil, fmt.Errorf("flatpak: %w", err)
	}
	if _, err := os.Stat(base); err != nil {
		return nil, fmt.Errorf("flatpak: %w", err)
	}
	var out []inventory.Package
	for _, kind := range []string{"app", "runtime"} {
		refs, err := flatpakRefs(filepath.Join(base, kind))
		if err != nil {
			return nil, fmt.Errorf("flatpak: %w", err)
		}
		for _, ref := range refs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p, ok, err := readFlatpakDeploy(ref)
			if err != nil {
				return nil, fmt.Errorf("flatpak %s/%s/%s: %w", ref.id, ref.arch, ref.branch, err)
			}
			if ok {
				out = append(out, p)
			}
		}
	}
	SortPackages(out)
	return out, nil
}

type flatpakRef struct{ dir, id, arch, branch string }

// flatpakRefs lists <kind>/<id>/<arch>/<branch> directories. The id
// directory also holds a "current" link to the default arch/branch,
// skipped here: it would list the same deployment twice.
func flatpakRefs(kindDir string) ([]flatpakRef, error) {
	ids, err := os.ReadDir(kindDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []flatpakRef
	for _, id := range ids {
		if !id.IsDir() {
			continue
		}
		arches, _ := os.ReadDir(filepath.Join(kindDir, id.Name()))
		for _, arch := range arches {
			if !arch.IsDir() || arch.Name() == "current" {
				continue
			}
			branches, _ := os.ReadDir(filepath.Join(kindDir, id.Name(), arch.Name()))
			for _, br := range branches {
				if br.IsDir() {
					out = append(out, flatpakRef{
						dir: filepath.Join(kindDir, id.Name(), arch.Name(), br.Name()),
						id:  id.Name(), arch: arch.Name(), branch: br.Name(),
					})
				}
			}
		}
	}
	return out, nil
}

// readFlatpakDeploy reads a ref's active deployment; ok is false for a
// ref with none (an interrupted install or uninstall).
func readFlatpakDeploy(ref flatpakRef) (inventory.Package, bool, error) {
	path := filepath.Join(ref.dir, "active", "deploy")
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return inventory.Package{}, false, nil
	}
	if err != nil {
		return inventory.Package{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return inventory.Package{}, false, err
	}
	if fi.Size() > 1<<20 {
		return inventory.Package{}, false, corrupt("deploy file of %d bytes", fi.Size())
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return inventory.Package{}, false, err
	}
	origin, version, err := parseFlatpakDeploy(data)
	if err != nil {
		return inventory.Package{}, false, err
	}
	if version == "" {
		version = ref.branch
	}
	return inventory.Package{
		Name:        ref.id,
		Version:     version,
		Arch:        ref.arch,
		Source:      inventory.SourceFlatpak,
		Publisher:   origin,
		InstallTime: fi.ModTime().UTC().Truncate(time.Second),
	}, true, nil
}

// parseFlatpakDeploy reads the origin remote and "appdata-version" from
// deploy data: (origin s, commit s, subpaths as, installed size t,
// metadata a{sv}).
func parseFlatpakDeploy(data []byte) (origin, version string, err error) {
	parts, ok := gvFrame(data, []gvMember{{1, 0}, {1, 0}, {1, 0}, {8, 8}, {8, 0}})
	if !ok {
		return "", "", corrupt("deploy data is not a (ssasta{sv})")
	}
	origin, ok = gvString(parts[0])
	if !ok {
		return "", "", corrupt("deploy data origin")
	}
	entries, ok := gvArray(parts[4], 8)
	if !ok {
		return "", "", corrupt("deploy data metadata")
	}
	for _, e := range entries {
		kv, ok := gvFrame(e, []gvMember{{1, 0}, {8, 0}})
		if !ok {
			return "", "", corrupt("deploy data metadata entry")
		}
		if key, ok := gvString(kv[0]); !ok || key != "appdata-version" {
			continue
		}
		val, typ, ok := gvVariant(kv[1])
		if !ok || typ != "s" {
			return "", "", corrupt("appdata-version is not a string")
		}
		if version, ok = gvString(val); !ok {
			return "", "", corrupt("appdata-version")
		}
	}
	return origin, version, nil
}
