package wininv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// PackageID is a Store (MSIX/AppX) package identity, as its full name
// spells it: Name_Version_Architecture_ResourceId_PublisherId, for example
// Microsoft.WindowsCalculator_11.2307.4.0_x64__8wekyb3d8bbwe.
type PackageID struct {
	Name        string
	Version     string // four dot-separated numbers
	Arch        string // x86, x64, arm, arm64, neutral
	ResourceID  string // "" for a main package
	PublisherID string // 13-character hash of the publisher
}

// ErrPackageFullName is wrapped when a name is not a package full name.
var ErrPackageFullName = errors.New("not a package full name")

// ParsePackageFullName splits a package full name. None of its fields may
// contain an underscore, so it has exactly five.
func ParsePackageFullName(s string) (PackageID, error) {
	f := strings.Split(s, "_")
	if len(f) != 5 || f[0] == "" || f[4] == "" {
		return PackageID{}, fmt.Errorf("%q: %w", s, ErrPackageFullName)
	}
	id := PackageID{Name: f[0], Version: f[1], Arch: f[2], ResourceID: f[3], PublisherID: f[4]}
	parts := strings.Split(id.Version, ".")
	if len(parts) != 4 {
		return PackageID{}, fmt.Errorf("%q: version %q: %w", s, id.Version, ErrPackageFullName)
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return PackageID{}, fmt.Errorf("%q: version %q: %w", s, id.Version, ErrPackageFullName)
		}
	}
	switch id.Arch {
	case "x86", "x64", "arm", "arm64", "neutral":
	default:
		return PackageID{}, fmt.Errorf("%q: architecture %q: %w", s, id.Arch, ErrPackageFullName)
	}
	return id, nil
}

// mainPackage reports whether id is an installable app or framework rather
// than a resource package (ResourceId "split.scale-150", "split.language-de"),
// which only adds assets to a main package listed on its own, or a bundle
// ("~"), which is the container its main and resource packages came in.
// Inbox system apps use the ResourceId "neutral" and are main packages.
func (id PackageID) mainPackage() bool {
	return id.ResourceID == "" || id.ResourceID == "neutral"
}

// AppxFullNames gathers the package full names installed for any user:
// the subkeys of every per-SID key under AppxAllUserStore (every user, but
// readable by administrators only) and of every loaded user's package
// repository (only users with a loaded hive). Either may be nil.
func AppxFullNames(allUserStore *Key, repositories ...*Key) []string {
	var names []string
	for _, sid := range allUserStore.Subkeys() {
		if !strings.HasPrefix(strings.ToUpper(sid.Name), "S-1-") {
			continue // Applications, Config, Deleted, EndOfLife, ...: not per-user lists
		}
		for _, p := range sid.Subkeys() {
			names = append(names, p.Name)
		}
	}
	for _, repo := range repositories {
		for _, p := range repo.Subkeys() {
			names = append(names, p.Name)
		}
	}
	return names
}

// MSIXPackages turns package full names into software entries: the package
// identity name (what Get-AppxPackage calls Name) and version. Display names
// are left out: they are resource references that only the package's own
// resources.pri resolves. Frameworks (VCLibs, .NET Native, UI.Xaml) are kept
// because, like the Visual C++ redistributables in the Uninstall key, their
// versions matter for vulnerabilities. Names that do not parse are skipped.
func MSIXPackages(fullNames []string) []inventory.Package {
	var out []inventory.Package
	for _, n := range fullNames {
		id, err := ParsePackageFullName(n)
		if err != nil || !id.mainPackage() {
			continue
		}
		out = append(out, inventory.Package{
			Name:    id.Name,
			Version: id.Version,
			Arch:    id.Arch,
			Source:  inventory.SourceMSIX,
		})
	}
	return out
}
