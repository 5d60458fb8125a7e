package macinv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/steward-project/steward/shared/inventory"
)

// Software is the software section: application bundles (for homes, the
// home folders of local users), installer receipts and Homebrew. A source
// absent from this system is skipped; at least one must be present.
func (s System) Software(ctx context.Context, homes []string) (inventory.Software, error) {
	sources := []func(context.Context) ([]inventory.Package, error){
		func(ctx context.Context) ([]inventory.Package, error) { return s.Applications(ctx, homes) },
		s.Receipts,
		s.Homebrew,
	}
	out := inventory.Software{Packages: []inventory.Package{}}
	found := false
	for _, src := range sources {
		pkgs, err := src(ctx)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return inventory.Software{}, err
		}
		found = true
		out.Packages = append(out.Packages, pkgs...)
	}
	if !found {
		return inventory.Software{}, fmt.Errorf("no applications, receipts or Homebrew under %s: %w",
			s.root(), fs.ErrNotExist)
	}
	slices.SortFunc(out.Packages, comparePackages)
	// The same app can sit in /Applications and a home folder; identical
	// entries say nothing more than one.
	out.Packages = slices.CompactFunc(out.Packages, func(a, b inventory.Package) bool {
		return comparePackages(a, b) == 0
	})
	return out, nil
}

func comparePackages(a, b inventory.Package) int {
	return cmp.Or(
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.BundleID, b.BundleID),
		a.InstallTime.Compare(b.InstallTime),
	)
}
