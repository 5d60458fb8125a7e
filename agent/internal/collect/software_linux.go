package collect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/steward-project/steward/agent/internal/collect/pkgdb"
	"github.com/steward-project/steward/shared/inventory"
)

// packageSources are the Linux package databases read, each from its own
// files under Config.Root, never by running the package manager. A
// source whose database is absent returns an error wrapping
// fs.ErrNotExist and is simply not there on this system; most systems
// have one or two (dpkg and snap, rpm and flatpak).
var packageSources = []struct {
	name string
	list func(ctx context.Context, cfg Config) ([]inventory.Package, error)
}{
	{inventory.SourceDpkg, dpkgPackages},
	{inventory.SourceRPM, rootSource(pkgdb.RPM)},
	{inventory.SourceAPK, rootSource(pkgdb.APK)},
	{inventory.SourcePacman, rootSource(pkgdb.Pacman)},
	{inventory.SourceSnap, rootSource(pkgdb.Snap)},
	{inventory.SourceFlatpak, rootSource(pkgdb.Flatpak)},
}

func rootSource(f func(ctx context.Context, root string) ([]inventory.Package, error)) func(context.Context, Config) ([]inventory.Package, error) {
	return func(ctx context.Context, cfg Config) ([]inventory.Package, error) {
		return f(ctx, cfg.Root)
	}
}

// collectSoftware merges every source present. A source that is present
// but unreadable fails the whole section rather than leaving its packages
// out: a partial list would read, on the server, as every one of them
// removed, and come back as installed on the next good collection.
func collectSoftware(ctx context.Context, cfg Config) (any, error) {
	out := inventory.Software{Packages: []inventory.Package{}}
	var found []string
	for _, src := range packageSources {
		pkgs, err := src.list(ctx, cfg)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.name, err)
		}
		found = append(found, src.name)
		out.Packages = append(out.Packages, pkgs...)
	}
	if len(found) == 0 {
		names := make([]string, len(packageSources))
		for i, s := range packageSources {
			names[i] = s.name
		}
		return nil, fmt.Errorf("no package database under %s (looked for %s): %w",
			cfg.Root, strings.Join(names, ", "), errors.ErrUnsupported)
	}
	pkgdb.SortPackages(out.Packages)
	return out, nil
}
