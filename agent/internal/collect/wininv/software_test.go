package wininv

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

const aliceSID = "S-1-5-21-3623811015-3361044348-30300820-1001"

// fixtureSoftware assembles the software section from the fixtures the way
// the live collector does from the registry.
func fixtureSoftware(t *testing.T) []inventory.Package {
	hklm := loadReg(t, "uninstall-hklm.reg").Lookup("HKEY_LOCAL_MACHINE")
	wow := loadReg(t, "uninstall-wow6432.reg").Lookup("HKEY_LOCAL_MACHINE")
	users := loadReg(t, "uninstall-user.reg").Lookup("HKEY_USERS")
	classes := loadReg(t, "appmodel-repository.reg").Lookup("HKEY_USERS")
	store := loadReg(t, "appx-alluserstore.reg").Lookup("HKEY_LOCAL_MACHINE")

	var pkgs []inventory.Package
	pkgs = append(pkgs, UninstallPackages(hklm.Lookup(UninstallPath), ArchX64)...)
	pkgs = append(pkgs, UninstallPackages(wow.Lookup(Uninstall32Path), ArchX86)...)
	userHives, classHives := LoadedUserHives([]string{".DEFAULT", aliceSID, aliceSID + "_Classes", "S-1-5-18"})
	for _, sid := range userHives {
		pkgs = append(pkgs, UninstallPackages(users.Lookup(sid+`\Software\Microsoft\Windows\CurrentVersion\Uninstall`), "")...)
	}
	var repos []*Key
	for _, h := range classHives {
		repos = append(repos, classes.Lookup(h+`\`+AppRepositoryPath))
	}
	pkgs = append(pkgs, MSIXPackages(AppxFullNames(store.Lookup(AppxAllUserStorePath), repos...))...)
	return SortPackages(pkgs)
}

func TestSoftwareFixtures(t *testing.T) {
	pkgs := fixtureSoftware(t)
	checkGolden(t, "software", inventory.Software{Packages: pkgs})

	find := func(name, version string) (inventory.Package, int) {
		var found inventory.Package
		n := 0
		for _, p := range pkgs {
			if p.Name == name && (version == "" || p.Version == version) {
				found = p
				n++
			}
		}
		return found, n
	}
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name, version string
		want          inventory.Package
	}{
		{"Git", "", inventory.Package{Name: "Git", Version: "2.43.0", Arch: "x64", Source: "windows_registry",
			Publisher: "The Git Development Community", InstallTime: date(2024, 1, 12)}},
		{"HP Documentation", "", inventory.Package{Name: "HP Documentation", Arch: "x64", Source: "windows_registry", Publisher: "HP Inc."}},
		{"Adobe Acrobat Reader DC", "", inventory.Package{Name: "Adobe Acrobat Reader DC", Version: "23.008.20470", Arch: "x86",
			Source: "windows_registry", Publisher: "Adobe Systems Incorporated", InstallTime: date(2024, 1, 10)}},
		{"Microsoft Visual Studio Code (User)", "", inventory.Package{Name: "Microsoft Visual Studio Code (User)", Version: "1.85.2",
			Source: "windows_registry", Publisher: "Microsoft Corporation", InstallTime: date(2024, 1, 18)}},
		// SystemComponent=0 does not hide; an InstallDate not in YYYYMMDD is dropped.
		{"Microsoft Update Health Tools", "", inventory.Package{Name: "Microsoft Update Health Tools", Version: "5.72.0.0", Arch: "x64",
			Source: "windows_registry", Publisher: "Microsoft Corporation"}},
		{"Microsoft.WindowsCalculator", "11.2311.0.0", inventory.Package{Name: "Microsoft.WindowsCalculator", Version: "11.2311.0.0", Arch: "x64", Source: "msix"}},
		{"Microsoft.WindowsCalculator", "11.2310.4.0", inventory.Package{Name: "Microsoft.WindowsCalculator", Version: "11.2310.4.0", Arch: "x64", Source: "msix"}},
		{"Microsoft.Windows.ShellExperienceHost", "", inventory.Package{Name: "Microsoft.Windows.ShellExperienceHost", Version: "10.0.22621.2506", Arch: "neutral", Source: "msix"}},
		{"Microsoft.VCLibs.140.00.UWPDesktop", "", inventory.Package{Name: "Microsoft.VCLibs.140.00.UWPDesktop", Version: "14.0.33321.0", Arch: "x64", Source: "msix"}},
	} {
		t.Run("has "+tc.name+" "+tc.version, func(t *testing.T) {
			got, n := find(tc.name, tc.version)
			if n != 1 {
				t.Fatalf("found %d times, want once", n)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	for _, name := range []string{
		"Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.38.33135",          // SystemComponent=1
		"Microsoft Visual C++ 2022 X86 Minimum Runtime - 14.38.33135",          // SystemComponent=1, 32-bit view
		"Office 16 Click-to-Run Extensibility Component",                       // SystemComponent=1
		"Security Update for Microsoft Office 2016 (KB5002520) 64-Bit Edition", // ParentKeyName
		"Update for Windows 10 for x64-based Systems (KB5001716)",              // ReleaseType Update
		"", // AddressBook, Connection Manager, WIC have no DisplayName
	} {
		t.Run("lacks "+name, func(t *testing.T) {
			if _, n := find(name, ""); n != 0 {
				t.Errorf("listed %d times", n)
			}
		})
	}
	t.Run("no resource or bundle packages", func(t *testing.T) {
		for _, p := range pkgs {
			if p.Source == "msix" && p.Arch == "neutral" && p.Name == "Microsoft.WindowsCalculator" {
				t.Errorf("resource or bundle package listed: %+v", p)
			}
		}
	})
	t.Run("sorted", func(t *testing.T) {
		if !slices.IsSortedFunc(pkgs, comparePackages) {
			t.Error("packages not sorted")
		}
	})
}

// entry builds an Uninstall key with one entry.
func entry(values map[string]Value) *Key {
	u := NewKey("Uninstall")
	e := u.Child("{11111111-2222-3333-4444-555555555555}")
	for n, v := range values {
		e.SetValue(n, v)
	}
	return u
}

func TestUninstallRules(t *testing.T) {
	name := StringValue("Contoso Agent")
	for _, tc := range []struct {
		name   string
		values map[string]Value
		listed bool
	}{
		{"display name only", map[string]Value{"DisplayName": name}, true},
		{"no display name", map[string]Value{"DisplayVersion": StringValue("1.0")}, false},
		{"blank display name", map[string]Value{"DisplayName": StringValue("   ")}, false},
		{"display name of the wrong type", map[string]Value{"DisplayName": DWORDValue(1)}, false},
		{"system component", map[string]Value{"DisplayName": name, "SystemComponent": DWORDValue(1)}, false},
		{"system component 0", map[string]Value{"DisplayName": name, "SystemComponent": DWORDValue(0)}, true},
		{"parent key name", map[string]Value{"DisplayName": name, "ParentKeyName": StringValue("Contoso")}, false},
		{"empty parent key name", map[string]Value{"DisplayName": name, "ParentKeyName": StringValue("")}, true},
		{"release type hotfix", map[string]Value{"DisplayName": name, "ReleaseType": StringValue("Hotfix")}, false},
		{"release type security update", map[string]Value{"DisplayName": name, "ReleaseType": StringValue("Security Update")}, false},
		{"release type update rollup", map[string]Value{"DisplayName": name, "ReleaseType": StringValue("Update Rollup")}, false},
		{"release type other", map[string]Value{"DisplayName": name, "ReleaseType": StringValue("Application")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := UninstallPackages(entry(tc.values), ArchX64)
			if (len(got) == 1) != tc.listed {
				t.Errorf("got %+v, listed = %v", got, tc.listed)
			}
		})
	}
}

func TestInstallDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"20240112", time.Date(2024, 1, 12, 0, 0, 0, 0, time.UTC)},
		{"2024-01-12", time.Time{}},
		{"20241312", time.Time{}},
		{"19000101", time.Time{}},
		{"", time.Time{}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := installDate(tc.in); !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParsePackageFullName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PackageID
		ok   bool
	}{
		{"Microsoft.WindowsCalculator_11.2311.0.0_x64__8wekyb3d8bbwe",
			PackageID{"Microsoft.WindowsCalculator", "11.2311.0.0", "x64", "", "8wekyb3d8bbwe"}, true},
		{"Microsoft.WindowsCalculator_11.2311.0.0_neutral_split.scale-100_8wekyb3d8bbwe",
			PackageID{"Microsoft.WindowsCalculator", "11.2311.0.0", "neutral", "split.scale-100", "8wekyb3d8bbwe"}, true},
		{"Microsoft.Windows.ShellExperienceHost_10.0.22621.2506_neutral_neutral_cw5n1h2txyewy",
			PackageID{"Microsoft.Windows.ShellExperienceHost", "10.0.22621.2506", "neutral", "neutral", "cw5n1h2txyewy"}, true},
		{"Microsoft.WindowsCalculator_11.2311.0.0_x64_8wekyb3d8bbwe", PackageID{}, false},      // four fields
		{"Microsoft.WindowsCalculator_11.2311.0_x64__8wekyb3d8bbwe", PackageID{}, false},       // three-part version
		{"Microsoft.WindowsCalculator_11.2311.0.70000_x64__8wekyb3d8bbwe", PackageID{}, false}, // part above 65535
		{"Microsoft.WindowsCalculator_11.2311.0.0_mips__8wekyb3d8bbwe", PackageID{}, false},    // unknown architecture
		{"Microsoft.WindowsCalculator_11.2311.0.0_x64__", PackageID{}, false},                  // no publisher id
		{"S-1-5-21-3623811015-3361044348-30300820-1001", PackageID{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePackageFullName(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrPackageFullName) {
				t.Errorf("err %v does not wrap ErrPackageFullName", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoadedUserHives(t *testing.T) {
	users, classes := LoadedUserHives([]string{
		".DEFAULT", "S-1-5-19", "S-1-5-19_Classes", aliceSID + "_Classes", aliceSID, "S-1-5-18",
	})
	if want := []string{"S-1-5-18", "S-1-5-19", aliceSID}; !slices.Equal(users, want) {
		t.Errorf("users = %q, want %q", users, want)
	}
	if want := []string{"S-1-5-19_Classes", aliceSID + "_Classes"}; !slices.Equal(classes, want) {
		t.Errorf("classes = %q, want %q", classes, want)
	}
}

func TestSortPackagesDedupes(t *testing.T) {
	a := inventory.Package{Name: "A", Version: "1", Source: "msix"}
	b := inventory.Package{Name: "A", Version: "2", Source: "msix"}
	c := inventory.Package{Name: "A", Version: "1", Arch: "x86", Source: "windows_registry"}
	got := SortPackages([]inventory.Package{b, a, c, a, b})
	if want := []inventory.Package{a, c, b}; !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
