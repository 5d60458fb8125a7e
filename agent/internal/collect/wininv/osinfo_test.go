package wininv

import (
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

func TestOSFixtures(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    inventory.OS
	}{
		{"currentversion-win10.reg", inventory.OS{
			Name: "Microsoft Windows 10 Pro", Platform: "windows", Family: "windows", Version: "22H2",
			Build: "19045.3930", Kernel: "10.0.19045.3930", Arch: "x86_64", Edition: "Professional"}},
		// Windows 11 still says "Windows 10" in ProductName.
		{"currentversion-win11.reg", inventory.OS{
			Name: "Microsoft Windows 11 Enterprise", Platform: "windows", Family: "windows", Version: "23H2",
			Build: "22631.3007", Kernel: "10.0.22631.3007", Arch: "x86_64", Edition: "Enterprise"}},
		{"currentversion-server2022.reg", inventory.OS{
			Name: "Microsoft Windows Server 2022 Datacenter", Platform: "windows", Family: "windows", Version: "21H2",
			Build: "20348.2227", Kernel: "10.0.20348.2227", Arch: "x86_64", Edition: "ServerDatacenter"}},
		// Before 20H2 there was no DisplayVersion, only ReleaseId.
		{"currentversion-ltsc2019.reg", inventory.OS{
			Name: "Microsoft Windows 10 Enterprise LTSC 2019", Platform: "windows", Family: "windows", Version: "1809",
			Build: "17763.5329", Kernel: "10.0.17763.5329", Arch: "x86_64", Edition: "EnterpriseS"}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			cv := loadReg(t, tc.fixture).Lookup(`HKEY_LOCAL_MACHINE\` + CurrentVersionPath)
			if got := OS(cv, "x86_64"); !equalOS(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func equalOS(a, b inventory.OS) bool {
	return a.Name == b.Name && a.Platform == b.Platform && a.Family == b.Family && a.Version == b.Version &&
		a.Build == b.Build && a.Kernel == b.Kernel && a.Arch == b.Arch && a.Edition == b.Edition &&
		slices.Equal(a.Hotfixes, b.Hotfixes)
}

func TestOSOlderWindows(t *testing.T) {
	// Windows 7 SP1: no major/minor numbers, no UBR, no DisplayVersion.
	cv := NewKey("CurrentVersion")
	cv.SetValue("ProductName", StringValue("Windows 7 Professional"))
	cv.SetValue("CurrentVersion", StringValue("6.1"))
	cv.SetValue("CurrentBuildNumber", StringValue("7601"))
	cv.SetValue("EditionID", StringValue("Professional"))
	got := OS(cv, "x86_64")
	if got.Name != "Microsoft Windows 7 Professional" || got.Kernel != "6.1.7601" || got.Build != "7601" || got.Version != "" {
		t.Errorf("got %+v", got)
	}
}

func TestProductName(t *testing.T) {
	for _, tc := range []struct{ name, build, want string }{
		{"Windows 10 Pro", "19045", "Microsoft Windows 10 Pro"},
		{"Windows 10 Pro", "22000", "Microsoft Windows 11 Pro"},
		{"Windows 10 Home", "26100", "Microsoft Windows 11 Home"},
		{"Windows Server 2025 Standard", "26100", "Microsoft Windows Server 2025 Standard"},
		{"Microsoft Windows XP", "2600", "Microsoft Windows XP"},
		{"Windows 10 Pro", "", "Microsoft Windows 10 Pro"},
		{"", "22631", ""},
	} {
		t.Run(tc.name+" "+tc.build, func(t *testing.T) {
			if got := productName(tc.name, tc.build); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMachineID(t *testing.T) {
	crypto := loadReg(t, "cryptography.reg").Lookup(`HKEY_LOCAL_MACHINE\` + MachineGUIDPath)
	if got, want := MachineID(crypto), "5b1e3f0a-9c2d-4e7b-8a61-2f3c4d5e6f70"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHotfixesFixture(t *testing.T) {
	cbs := loadReg(t, "cbs-packages.reg").Lookup(`HKEY_LOCAL_MACHINE\` + CBSPackagesPath)
	legacy := loadReg(t, "hotfix-legacy.reg").Lookup(`HKEY_LOCAL_MACHINE\` + LegacyHotfixPath)
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, time.UTC) }
	want := []inventory.Hotfix{
		{ID: "KB2533623"}, // legacy key only: no time
		{ID: "KB5011048", InstalledOn: at(2022, 3, 9, 14, 20)}, // installed by DISM
		{ID: "KB5015684", InstalledOn: at(2022, 8, 9, 16, 0)},  // in both; CBS time wins
		{ID: "KB5033909", InstalledOn: at(2024, 1, 10, 9, 40)}, // .NET rollup, KB from InstallLocation
		{ID: "KB5034122", InstalledOn: at(2024, 1, 10, 9, 45)}, // cumulative update, KB from InstallLocation
		{ID: "KB5034441", InstalledOn: at(2024, 1, 10, 9, 28)}, // two packages: the earlier time
	}
	// Left out: KB5033372 (superseded), KB5032189 (staged), the servicing
	// stack update (no KB anywhere), language and feature packages.
	got := Hotfixes(cbs, legacy)
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got := Hotfixes(nil, nil); len(got) != 0 {
		t.Errorf("no keys gave %+v", got)
	}
}

func TestKBNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Package_for_KB5034441~31bf3856ad364e35~amd64~~19041.3920.1.1", "KB5034441"},
		{"Package_1_for_kb5034441~31bf3856ad364e35~amd64~~19041.3920.1.1", "KB5034441"},
		{`C:\Windows\SoftwareDistribution\Download\4a5f\Windows10.0-KB5034122-x64.cab`, "KB5034122"},
		{"KB2533623", "KB2533623"},
		{"Package_for_KB12345~31bf3856ad364e35", ""},    // too short
		{"Package_for_XKB5034441~31bf3856ad364e35", ""}, // inside a word
		{"Package_for_RollupFix~31bf3856ad364e35~amd64~~19045.3930.1.7", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := kbNumber(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHotfixCandidate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Package_for_KB5034441~31bf3856ad364e35~amd64~~19041.3920.1.1", true},
		{"Package_for_RollupFix~31bf3856ad364e35~amd64~~19045.3930.1.7", true},
		{"Package_for_DotNetRollup_481~31bf3856ad364e35~amd64~~10.0.9214.1", true},
		{"Package_for_ServicingStack_3920~31bf3856ad364e35~amd64~~19041.3920.1.1", false},
		{"Microsoft-Windows-Client-LanguagePack-Package~31bf3856ad364e35~amd64~en-US~10.0.19041.3930", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := HotfixCandidate(tc.in); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
