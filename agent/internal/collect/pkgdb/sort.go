package pkgdb

import (
	"cmp"
	"slices"

	"github.com/steward-project/steward/shared/inventory"
)

// SortPackages puts packages in the inventory's order: by name, then
// architecture, version and source, so that a list read from an unchanged
// system is always the same, even where a database holds one name twice
// (several kernels, multilib).
func SortPackages(pkgs []inventory.Package) {
	slices.SortFunc(pkgs, ComparePackages)
}

// ComparePackages orders packages for SortPackages.
func ComparePackages(a, b inventory.Package) int {
	return cmp.Or(
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Source, b.Source),
		a.InstallTime.Compare(b.InstallTime),
		cmp.Compare(a.Publisher, b.Publisher),
	)
}
