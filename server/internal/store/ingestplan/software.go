package ingestplan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/shared/inventory"
)

// Package is one catalog key a software section reports, cleaned, with
// the publisher first reported for it.
type Package struct {
	changes.Package
	Publisher string
}

// ComparePackages orders catalog keys by name, version, arch and source,
// comparing bytes: the order of a "C" collation index over those columns.
func ComparePackages(a, b changes.Package) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Source, b.Source))
}

// decodeSoftware returns the distinct packages of a software section in
// ComparePackages order, each with the publisher first reported for it.
// Packages without a name carry nothing to search for and are left out.
func decodeSoftware(data []byte) ([]Package, error) {
	var sw inventory.Software
	if err := json.Unmarshal(data, &sw); err != nil {
		return nil, fmt.Errorf("decode software section: %w", err)
	}
	pkgs := make([]Package, 0, len(sw.Packages))
	for _, p := range sw.Packages {
		k := changes.Package{Name: Clean(p.Name), Version: Clean(p.Version), Arch: Clean(p.Arch), Source: Clean(p.Source)}
		if k.Name == "" {
			continue
		}
		pkgs = append(pkgs, Package{Package: k, Publisher: Clean(p.Publisher)})
	}
	// Stable, so the first of equal keys is the first reported.
	slices.SortStableFunc(pkgs, func(a, b Package) int { return ComparePackages(a.Package, b.Package) })
	return slices.CompactFunc(pkgs, func(a, b Package) bool { return a.Package == b.Package }), nil
}

// changes names the changes of the set difference the backend reported.
func (s *SoftwareSet) changes() []changes.Change {
	if len(s.Removed) == 0 && len(s.Added) == 0 {
		return nil
	}
	after := make([]changes.Package, len(s.Packages))
	for i, p := range s.Packages {
		after[i] = p.Package
	}
	return changes.Software(s.Removed, s.Added, after)
}
