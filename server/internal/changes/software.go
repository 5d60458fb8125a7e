package changes

import (
	"cmp"
	"slices"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/version"
)

// Package is the identity of one installed package: the software
// catalog's key.
type Package struct {
	Name, Version, Arch, Source string
}

// group is what stays the same when a package is upgraded.
type group struct{ name, arch, source string }

func (p Package) group() group { return group{p.Name, p.Arch, p.Source} }

type softwareDetails struct {
	Arch   string `json:"arch,omitempty"`
	Source string `json:"source"`
}

// Software turns a software set difference into changes. removed and added
// are the packages that went and came; after is the whole new list. A
// package that went and came back in another version with the same name,
// arch and source is one upgrade (or downgrade), provided it is the only
// version of that name installed afterwards: a host keeping several
// kernels that swaps its oldest for a newest one installed one and removed
// another, it did not upgrade anything.
func Software(removed, added, after []Package) []Change {
	gone := map[group][]Package{}
	for _, p := range removed {
		gone[p.group()] = append(gone[p.group()], p)
	}
	came := map[group][]Package{}
	for _, p := range added {
		came[p.group()] = append(came[p.group()], p)
	}
	// Count, in the new list, only the groups that could be one upgrade.
	candidates := map[group]int{}
	for g, r := range gone {
		if len(r) == 1 && len(came[g]) == 1 {
			candidates[g] = 0
		}
	}
	if len(candidates) > 0 {
		for _, p := range after {
			if n, ok := candidates[p.group()]; ok {
				candidates[p.group()] = n + 1
			}
		}
	}

	var out []Change
	for _, g := range sortedGroups(gone, came) {
		d := details(softwareDetails{Arch: g.arch, Source: g.source})
		if candidates[g] == 1 {
			o, n := gone[g][0].Version, came[g][0].Version
			out = append(out, Change{Kind: versionKind(g.source, o, n), Subject: g.name, Old: o, New: n, Details: d})
			continue
		}
		for _, p := range sortedByVersion(gone[g]) {
			out = append(out, Change{Kind: SoftwareRemoved, Subject: g.name, Old: p.Version, Details: d})
		}
		for _, p := range sortedByVersion(came[g]) {
			out = append(out, Change{Kind: SoftwareInstalled, Subject: g.name, New: p.Version, Details: d})
		}
	}
	return out
}

// versionKind names a version change by the source's own ordering.
func versionKind(source, old, new string) string {
	c, err := version.Compare(source, old, new)
	switch {
	case err != nil || c == 0:
		return SoftwareVersionChanged
	case c < 0:
		return SoftwareUpgraded
	}
	return SoftwareDowngraded
}

func sortedGroups(a, b map[group][]Package) []group {
	gs := make([]group, 0, len(a)+len(b))
	for g := range a {
		gs = append(gs, g)
	}
	for g := range b {
		if _, ok := a[g]; !ok {
			gs = append(gs, g)
		}
	}
	slices.SortFunc(gs, func(x, y group) int {
		return cmp.Or(cmp.Compare(x.name, y.name), cmp.Compare(x.arch, y.arch), cmp.Compare(x.source, y.source))
	})
	return gs
}

func sortedByVersion(ps []Package) []Package {
	return slices.SortedFunc(slices.Values(ps), func(x, y Package) int { return cmp.Compare(x.Version, y.Version) })
}

// softwareChanges diffs two decoded software sections; stores derive the
// same from their catalog links instead (see Software).
func softwareChanges(old, new inventory.Software) []Change {
	have := packageSet(old.Packages)
	want := packageSet(new.Packages)
	var removed, added, after []Package
	for p := range have {
		if !want[p] {
			removed = append(removed, p)
		}
	}
	for p := range want {
		after = append(after, p)
		if !have[p] {
			added = append(added, p)
		}
	}
	return Software(removed, added, after)
}

func packageSet(pkgs []inventory.Package) map[Package]bool {
	set := make(map[Package]bool, len(pkgs))
	for _, p := range pkgs {
		if p.Name != "" {
			set[Package{p.Name, p.Version, p.Arch, p.Source}] = true
		}
	}
	return set
}
