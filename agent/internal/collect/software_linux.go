package collect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// packageSources are the Linux package databases read, in this order. A
// source whose database is absent returns an error wrapping
// fs.ErrNotExist and is simply not there on this system.
var packageSources = []struct {
	name string
	list func(ctx context.Context, cfg Config) ([]inventory.Package, error)
}{
	{inventory.SourceDpkg, dpkgPackages},
}

func collectSoftware(ctx context.Context, cfg Config) (any, error) {
	out := inventory.Software{Packages: []inventory.Package{}}
	found := false
	for _, src := range packageSources {
		pkgs, err := src.list(ctx, cfg)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.name, err)
		}
		found = true
		out.Packages = append(out.Packages, pkgs...)
	}
	if !found {
		return nil, fmt.Errorf("no supported package database under %s (only dpkg is read so far): %w",
			cfg.Root, errors.ErrUnsupported)
	}
	slices.SortFunc(out.Packages, comparePackages)
	return out, nil
}

func comparePackages(a, b inventory.Package) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Arch, b.Arch); c != 0 {
		return c
	}
	return strings.Compare(a.Source, b.Source)
}
