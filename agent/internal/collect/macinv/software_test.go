package macinv

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

func TestSoftwareGolden(t *testing.T) {
	sys := System{Root: fixtureRoot(t)}
	ctx := context.Background()
	got, err := sys.Software(ctx, HomePaths(sys.Homes(ctx)))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "software.json", got)
}

func TestApplications(t *testing.T) {
	sys := System{Root: fixtureRoot(t)}
	pkgs, err := sys.Applications(context.Background(), []string{"/Users/alice", "/Users/bob", "/Users/nobody-here"})
	if err != nil {
		t.Fatal(err)
	}
	byName := func(name string) []inventory.Package {
		var out []inventory.Package
		for _, p := range pkgs {
			if p.Name == name {
				out = append(out, p)
			}
		}
		return out
	}
	cases := []struct {
		name, why string
		want      []inventory.Package
	}{
		{"Google Chrome", "display name wins; one copy in /Applications and one in each of two homes", []inventory.Package{
			{Name: "Google Chrome", Version: "124.0.6367.119", Source: "macos_app", BundleID: "com.google.Chrome"},
			{Name: "Google Chrome", Version: "124.0.6367.119", Source: "macos_app", BundleID: "com.google.Chrome"},
			{Name: "Google Chrome", Version: "120.0.6099.71", Source: "macos_app", BundleID: "com.google.Chrome"},
		}},
		{"Slack", "binary Info.plist, CFBundleName", []inventory.Package{
			{Name: "Slack", Version: "4.38.125", Source: "macos_app", BundleID: "com.tinyspeck.slackmacgap"},
		}},
		{"Privileges", "one folder down (Utilities)", []inventory.Package{
			{Name: "Privileges", Version: "1.5.4", Source: "macos_app", BundleID: "corp.sap.privileges"},
		}},
		{"Terminal", "/System/Applications/Utilities", []inventory.Package{
			{Name: "Terminal", Version: "2.14", Source: "macos_app", BundleID: "com.apple.Terminal"},
		}},
		{"Legacy Tool", "no names: folder; no short version: integer CFBundleVersion", []inventory.Package{
			{Name: "Legacy Tool", Version: "412", Source: "macos_app", BundleID: "com.example.legacytool"},
		}},
		{"Template Name", "unexpanded $(PRODUCT_NAME): folder name", []inventory.Package{
			{Name: "Template Name", Version: "2.0", Source: "macos_app", BundleID: "com.example.template"},
		}},
		{"Duolingo", "iOS app behind WrappedBundle", []inventory.Package{
			{Name: "Duolingo", Version: "7.21.0", Source: "macos_app", BundleID: "com.duolingo.DuolingoMobile"},
		}},
		{"Google Chrome Helper", "bundles inside bundles are not applications", nil},
		{"Too Deep", "two folders down is not scanned", nil},
		{"Secret", "hidden folders are skipped", nil},
		{"Broken", "no Info.plist", nil},
		{"Firefox Link", "symbolic links are not followed", nil},
		{"Firefox", "symbolic links are not followed", nil},
		{"Shared Tool", "/Users/Shared is not a home", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := byName(c.name)
			if !slices.Equal(got, c.want) {
				t.Errorf("%s (%s):\n got %+v\nwant %+v", c.name, c.why, got, c.want)
			}
		})
	}
}

func TestReceipts(t *testing.T) {
	sys := System{Root: fixtureRoot(t)}
	pkgs, err := sys.Receipts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]inventory.Package{
		"com.microsoft.Word": {Name: "com.microsoft.Word", Version: "16.84.24041420", Source: "pkgutil",
			InstallTime: time.Date(2024, 4, 20, 8, 15, 2, 0, time.UTC)},
		"com.apple.pkg.XProtectPlistConfigData_10_15.16U4327": {Name: "com.apple.pkg.XProtectPlistConfigData_10_15.16U4327",
			Version: "5.0.1", Source: "pkgutil", InstallTime: time.Date(2024, 5, 2, 3, 11, 45, 0, time.UTC)},
		"com.apple.pkg.Core": {Name: "com.apple.pkg.Core", Version: "14.4.1.1.1.1711692384", Source: "pkgutil",
			InstallTime: time.Date(2024, 4, 1, 17, 22, 51, 0, time.UTC)},
		"com.example.noid": {Name: "com.example.noid", Version: "0.9", Source: "pkgutil",
			InstallTime: time.Date(2023, 11, 30, 12, 0, 0, 0, time.UTC)},
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.Name] = true
		w, ok := want[p.Name]
		if !ok {
			continue
		}
		if p.Version != w.Version || p.Source != w.Source || !p.InstallTime.Equal(w.InstallTime) ||
			p.InstallTime.Location() != time.UTC {
			t.Errorf("%s = %+v, want %+v", p.Name, p, w)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("receipt %s missing", name)
		}
	}
	if len(pkgs) != 5 {
		t.Errorf("got %d receipts, want 5 (the truncated plist skipped): %+v", len(pkgs), pkgs)
	}
}

func TestHomebrew(t *testing.T) {
	sys := System{Root: fixtureRoot(t)}
	pkgs, err := sys.Homebrew(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(pkgs, comparePackages)
	want := []inventory.Package{
		{Name: "docker", Version: "4.30.0,149282", Source: "homebrew"}, // the cask: no arch
		{Name: "docker", Version: "26.1.1", Arch: "x86_64", Source: "homebrew", InstallTime: time.Unix(1714000000, 0).UTC()},
		{Name: "firefox", Version: "125.0.3", Source: "homebrew", InstallTime: time.Date(2024, 5, 2, 9, 30, 11, 0, time.UTC)},
		{Name: "gnupg", Version: "2.4.5", Arch: "arm64", Source: "homebrew"}, // receipt truncated
		{Name: "jq", Version: "1.7.1", Arch: "arm64", Source: "homebrew", InstallTime: time.Unix(1701820800, 0).UTC()},
		{Name: "openssl@3", Version: "3.2.1_1", Arch: "arm64", Source: "homebrew", InstallTime: time.Unix(1709251200, 0).UTC()},
		{Name: "openssl@3", Version: "3.3.0", Arch: "arm64", Source: "homebrew", InstallTime: time.Unix(1714640531, 0).UTC()},
		{Name: "wget", Version: "1.24.5", Arch: "arm64", Source: "homebrew"}, // no receipt
	}
	if len(pkgs) != len(want) {
		t.Fatalf("got %d packages, want %d: %+v", len(pkgs), len(want), pkgs)
	}
	for i := range want {
		if comparePackages(pkgs[i], want[i]) != 0 {
			t.Errorf("package %d = %+v, want %+v", i, pkgs[i], want[i])
		}
	}
}

func TestSoftwareSourcesAbsent(t *testing.T) {
	root := t.TempDir()
	_, err := System{Root: root}.Software(context.Background(), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty root: err = %v, want fs.ErrNotExist", err)
	}
	// A system with only Homebrew still has a software section.
	if err := os.MkdirAll(filepath.Join(root, "usr/local/Cellar/git/2.45.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := System{Root: root}.Software(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Packages) != 1 || got.Packages[0].Name != "git" || got.Packages[0].Arch != "x86_64" {
		t.Errorf("got %+v", got.Packages)
	}
}

func TestSoftwareCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := System{Root: fixtureRoot(t)}.Software(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
