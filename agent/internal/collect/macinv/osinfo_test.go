package macinv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

func TestOS(t *testing.T) {
	sys := System{Root: fixtureRoot(t)}
	got, err := sys.OS()
	if err != nil {
		t.Fatal(err)
	}
	want := inventory.OS{Name: "macOS Sonoma 14.4.1", Platform: "darwin", Family: "darwin", Version: "14.4.1", Build: "23E224"}
	if got.Name != want.Name || got.Platform != want.Platform || got.Family != want.Family ||
		got.Version != want.Version || got.Build != want.Build {
		t.Errorf("OS() = %+v, want %+v", got, want)
	}
}

func TestOSVariants(t *testing.T) {
	cases := []struct {
		name, plist, want string
		wantErr           bool
	}{
		{"rapid security response", sv("macOS", "13.3.1", "(a)", "22E772610a"), "macOS Ventura 13.3.1 (a)", false},
		{"mac os x", sv("Mac OS X", "10.15.7", "", "19H2026"), "Mac OS X Catalina 10.15.7", false},
		{"release not yet named here", sv("macOS", "27.0", "", "27A100"), "macOS 27.0", false},
		{"no version", sv("macOS", "", "", "23E224"), "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, systemVersionPath)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(c.plist), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := System{Root: root}.OS()
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if got.Name != c.want {
				t.Errorf("name = %q, want %q", got.Name, c.want)
			}
		})
	}
}

func sv(product, version, extra, build string) string {
	s := `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>ProductName</key><string>` + product + `</string>
<key>ProductBuildVersion</key><string>` + build + `</string>`
	if version != "" {
		s += "<key>ProductVersion</key><string>" + version + "</string>"
	}
	if extra != "" {
		s += "<key>ProductVersionExtra</key><string>" + extra + "</string>"
	}
	return s + "</dict></plist>"
}

func TestOSMissing(t *testing.T) {
	_, err := System{Root: t.TempDir()}.OS()
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestHostname(t *testing.T) {
	got, err := System{Root: fixtureRoot(t)}.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if got != "Alices-MacBook-Pro.local" {
		t.Errorf("Hostname() = %q", got)
	}
}

func TestParseCsrutilStatus(t *testing.T) {
	cases := []struct {
		file    string
		want    bool
		wantErr bool
	}{
		{"csrutil-enabled.txt", true, false},
		{"csrutil-disabled.txt", false, false},
		{"csrutil-custom.txt", false, false},        // file system protections off
		{"csrutil-custom-all-on.txt", true, false},  // only Apple Internal off, as always
		{"csrutil-custom-legacy.txt", false, false}, // 10.15: "enabled (Custom...)" with kext signing off
		{"csrutil-garbage.txt", false, true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := ParseCsrutilStatus(tool(t, c.file))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("enabled = %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseFdesetupStatus(t *testing.T) {
	cases := []struct {
		file    string
		want    bool
		wantErr bool
	}{
		{"fdesetup-on.txt", true, false},
		{"fdesetup-off.txt", false, false},
		{"fdesetup-encrypting.txt", true, false},
		{"fdesetup-deferred.txt", false, false},
		{"fdesetup-master-keychain.txt", true, false},
		{"fdesetup-garbage.txt", false, true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := ParseFdesetupStatus(tool(t, c.file))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("on = %v, want %v", got, c.want)
			}
		})
	}
}

func TestMarkFileVault(t *testing.T) {
	for _, on := range []bool{true, false} {
		d := inventory.Disks{Volumes: []inventory.Volume{
			{Mount: "/", FS: "apfs"},
			{Mount: "/System/Volumes/Data", FS: "apfs"},
			{Mount: "/Volumes/USB", FS: "exfat"},
		}}
		MarkFileVault(&d, on)
		for _, v := range d.Volumes[:2] {
			if v.Encrypted == nil || *v.Encrypted != on {
				t.Errorf("on=%v: %s encrypted = %v", on, v.Mount, v.Encrypted)
			}
			if wantScheme := map[bool]string{true: "filevault"}[on]; v.Encryption != wantScheme {
				t.Errorf("on=%v: %s encryption = %q", on, v.Mount, v.Encryption)
			}
		}
		if v := d.Volumes[2]; v.Encrypted != nil || v.Encryption != "" {
			t.Errorf("on=%v: external volume marked: %+v", on, v)
		}
	}
}
