package wininv

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// Registry paths the software section reads.
const (
	// UninstallPath holds one subkey per program that Programs and Features
	// lists, under HKLM (64-bit view) and under each user's hive.
	UninstallPath = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`
	// Uninstall32Path is the 32-bit view of UninstallPath on 64-bit Windows.
	Uninstall32Path = `SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall`
	// AppxAllUserStorePath has one subkey per user SID, each holding one
	// subkey per package full name installed for that user.
	AppxAllUserStorePath = `SOFTWARE\Microsoft\Windows\CurrentVersion\Appx\AppxAllUserStore`
	// AppRepositoryPath is, under a loaded HKEY_USERS\<SID>_Classes hive,
	// the user's package repository: one subkey per package full name.
	AppRepositoryPath = `Local Settings\Software\Microsoft\Windows\CurrentVersion\AppModel\Repository\Packages`
)

// Architectures, spelt as Windows spells them (and as package full names do).
const (
	ArchX64   = "x64"
	ArchX86   = "x86"
	ArchARM64 = "arm64"
)

// UninstallValues are the only Uninstall entry values the rules read; the
// live code fetches these and no others.
var UninstallValues = []string{
	"DisplayName", "DisplayVersion", "Publisher", "InstallDate",
	"SystemComponent", "ParentKeyName", "ReleaseType",
}

// UninstallPackages lists the programs one Uninstall key describes,
// following the rules Programs and Features applies: an entry needs a
// DisplayName; SystemComponent=1 hides it (the MSI parts of a bundle that
// has its own entry); ParentKeyName or an update ReleaseType marks an
// update of another entry, shown under "Installed updates" instead.
// arch is the registry view's architecture, or "" for a user hive, which
// both views share.
func UninstallPackages(uninstall *Key, arch string) []inventory.Package {
	var out []inventory.Package
	for _, e := range uninstall.Subkeys() {
		name := e.String("DisplayName")
		if name == "" || e.String("ParentKeyName") != "" || isUpdateRelease(e.String("ReleaseType")) {
			continue
		}
		if v, ok := e.Uint("SystemComponent"); ok && v == 1 {
			continue
		}
		out = append(out, inventory.Package{
			Name:        name,
			Version:     e.String("DisplayVersion"),
			Arch:        arch,
			Source:      inventory.SourceWindowsRegistry,
			Publisher:   e.String("Publisher"),
			InstallTime: installDate(e.String("InstallDate")),
		})
	}
	return out
}

func isUpdateRelease(t string) bool {
	switch strings.ToLower(t) {
	case "update", "hotfix", "security update", "update rollup", "service pack":
		return true
	}
	return false
}

// installDate reads InstallDate, which Windows Installer and most setup
// programs write as YYYYMMDD in local time; only the date is known, so it
// is reported as midnight UTC of that date. Other spellings are ignored.
func installDate(s string) time.Time {
	if len(s) != 8 {
		return time.Time{}
	}
	t, err := time.Parse("20060102", s)
	if err != nil || t.Year() < 1980 {
		return time.Time{}
	}
	return t
}

// LoadedUserHives sorts the subkey names of HKEY_USERS into user hives
// (HKEY_USERS\<SID>, holding the user's Software key) and classes hives
// (HKEY_USERS\<SID>_Classes, holding the package repository). .DEFAULT is
// left out: it is the LocalSystem hive again, also loaded as S-1-5-18.
func LoadedUserHives(names []string) (users, classes []string) {
	for _, n := range names {
		if !strings.HasPrefix(strings.ToUpper(n), "S-1-") {
			continue
		}
		if strings.HasSuffix(strings.ToLower(n), "_classes") {
			classes = append(classes, n)
		} else {
			users = append(users, n)
		}
	}
	slices.Sort(users)
	slices.Sort(classes)
	return users, classes
}

// SortPackages orders packages by name, version, architecture and source
// and drops exact duplicates (the same program registered twice, or one
// Store package installed for several users).
func SortPackages(pkgs []inventory.Package) []inventory.Package {
	slices.SortFunc(pkgs, comparePackages)
	return slices.CompactFunc(pkgs, func(a, b inventory.Package) bool { return comparePackages(a, b) == 0 })
}

func comparePackages(a, b inventory.Package) int {
	return cmp.Or(
		strings.Compare(a.Name, b.Name),
		strings.Compare(a.Version, b.Version),
		strings.Compare(a.Arch, b.Arch),
		strings.Compare(a.Source, b.Source),
		strings.Compare(a.Publisher, b.Publisher),
		a.InstallTime.Compare(b.InstallTime),
	)
}
