package wininv

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// Installed updates are read from Component Based Servicing's package list,
// the store Windows servicing itself keeps and the one Get-HotFix and
// Win32_QuickFixEngineering report from. WMI would cost a COM round trip to
// a provider known to take seconds; Windows Update's history needs the
// Update Agent COM API. CBS holds thousands of packages (features,
// languages), but their names say which are updates, so only those few
// keys are opened.
const (
	// CBSPackagesPath has one subkey per servicing package.
	CBSPackagesPath = `SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages`
	// LegacyHotfixPath lists updates by KB on Windows before Vista and a few
	// later ones that still register there.
	LegacyHotfixPath = `SOFTWARE\Microsoft\Windows NT\CurrentVersion\HotFix`
)

// CBSValues are the package values Hotfixes reads.
var CBSValues = []string{"CurrentState", "InstallTimeHigh", "InstallTimeLow", "InstallLocation"}

// CBS package states (CurrentState), the servicing API's install states
// times 16.
const (
	cbsStateInstalled = 0x70
	cbsStatePermanent = 0x80 // installed and not removable, as servicing stack updates
)

// kbPattern is "KB" and six to eight digits, not inside a longer word or
// number ("_" counts as a separator, unlike in \b).
var kbPattern = regexp.MustCompile(`(?i)(?:^|[^a-z0-9])kb(\d{6,8})(?:\D|$)`)

// kbNumber finds an update's KB number in a package name or cab path:
// "Package_for_KB5034441~31bf3856ad364e35~amd64~~19041.3920.1.1",
// "C:\Windows\SoftwareDistribution\Download\...\Windows10.0-KB5034122-x64.cab".
func kbNumber(s string) string {
	m := kbPattern.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return "KB" + m[1]
}

// HotfixCandidate reports whether a CBS package name may be an update:
// Package_for_KB..., Package_1_for_KB..., or a cumulative update of
// Windows (Package_for_RollupFix) or .NET (Package_for_DotNetRollup_481),
// whose names carry no KB: it is only in their InstallLocation. The live
// code opens only these.
func HotfixCandidate(name string) bool {
	lower := strings.ToLower(name)
	if !strings.HasPrefix(lower, "package_") {
		return false
	}
	return strings.Contains(lower, "rollup") || kbNumber(name) != ""
}

// Hotfixes lists installed updates, one per KB, from the CBS package list
// (only the keys HotfixCandidate accepts need be present) and the legacy
// HotFix key; either may be nil. Superseded, staged and pending packages
// are not installed and are left out. Several packages can carry one KB; the
// earliest install time is kept. The description stays empty: CBS keeps it
// only inside the package manifest.
func Hotfixes(cbs, legacy *Key) []inventory.Hotfix {
	byKB := make(map[string]time.Time)
	for _, p := range cbs.Subkeys() {
		if !HotfixCandidate(p.Name) {
			continue
		}
		state, _ := p.Uint("CurrentState")
		if state != cbsStateInstalled && state != cbsStatePermanent {
			continue
		}
		kb := kbNumber(p.Name)
		if kb == "" {
			kb = kbNumber(p.String("InstallLocation"))
		}
		if kb == "" {
			continue
		}
		t := filetime(p)
		if old, seen := byKB[kb]; !seen || (!t.IsZero() && (old.IsZero() || t.Before(old))) {
			byKB[kb] = t
		}
	}
	for _, k := range legacy.Subkeys() {
		if kb := kbNumber(k.Name); kb != "" {
			if _, seen := byKB[kb]; !seen {
				byKB[kb] = time.Time{}
			}
		}
	}
	out := make([]inventory.Hotfix, 0, len(byKB))
	for kb, t := range byKB {
		out = append(out, inventory.Hotfix{ID: kb, InstalledOn: t})
	}
	slices.SortFunc(out, func(a, b inventory.Hotfix) int { return cmp.Compare(kbOrder(a.ID), kbOrder(b.ID)) })
	return out
}

func kbOrder(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "KB"))
	return n
}

// filetimeEpochDelta is the number of 100 ns intervals between 1601-01-01
// (the FILETIME epoch) and 1970-01-01.
const filetimeEpochDelta = 116444736000000000

// filetime reads InstallTimeHigh and InstallTimeLow, the two halves of a
// FILETIME in UTC, to the second.
func filetime(p *Key) time.Time {
	hi, okHi := p.Uint("InstallTimeHigh")
	lo, okLo := p.Uint("InstallTimeLow")
	ft := hi<<32 | lo
	if !okHi || !okLo || ft < filetimeEpochDelta {
		return time.Time{}
	}
	return time.Unix(int64((ft-filetimeEpochDelta)/1e7), 0).UTC()
}
