package pkgdb

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// The deploy files in testdata/flatpak were written by GLib's GVariant
// serializer (gen.py), the same code flatpak writes them with.
func TestFlatpak(t *testing.T) {
	const commit = "3f0d6c8b2d4ae2a8c1d64c7f5f0c1b0e9d1c3f2a4b5c6d7e8f9a0b1c2d3e4f50"
	t1 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	t2 := time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC)
	deploy := func(tr tree, ref, fixture string, at time.Time) tree {
		dir := "var/lib/flatpak/" + ref
		return tr.fixture(dir+"/"+commit+"/deploy", "flatpak/"+fixture).
			mtime(dir+"/"+commit+"/deploy", at).
			link(dir+"/active", commit)
	}
	tr := newTree(t)
	deploy(tr, "app/org.example.Editor/x86_64/stable", "app.deploy", t1)
	tr.link("var/lib/flatpak/app/org.example.Editor/current", "x86_64/stable")
	deploy(tr, "runtime/org.example.Platform/x86_64/23.08", "runtime.deploy", t2)
	deploy(tr, "runtime/org.example.Platform/x86_64/24.08", "runtime.deploy", t2)
	deploy(tr, "runtime/org.example.Platform/aarch64/24.08", "minimal.deploy", t1)
	// An install that never finished: a branch without an active deployment.
	tr.dir("var/lib/flatpak/app/org.example.Broken/x86_64/stable")
	tr.dir("var/lib/flatpak/repo/objects")

	got, err := Flatpak(context.Background(), tr.root)
	if err != nil {
		t.Fatal(err)
	}
	diffPackages(t, got, []inventory.Package{
		{Name: "org.example.Editor", Version: "3.14.1", Arch: "x86_64", Source: "flatpak", Publisher: "flathub", InstallTime: t1},
		{Name: "org.example.Platform", Version: "24.08", Arch: "aarch64", Source: "flatpak", Publisher: "local", InstallTime: t1},
		{Name: "org.example.Platform", Version: "23.08", Arch: "x86_64", Source: "flatpak", Publisher: "fedora", InstallTime: t2},
		{Name: "org.example.Platform", Version: "24.08", Arch: "x86_64", Source: "flatpak", Publisher: "fedora", InstallTime: t2},
	})

	t.Run("absent", func(t *testing.T) {
		if _, err := Flatpak(context.Background(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
}

func TestParseFlatpakDeployRejectsDamage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "flatpak", "app.deploy"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ {
		origin, version, err := parseFlatpakDeploy(data[:n])
		if err == nil && origin == "flathub" && version == "3.14.1" {
			t.Errorf("truncated to %d bytes and still read in full", n)
		}
	}
}

func FuzzParseFlatpakDeploy(f *testing.F) {
	for _, name := range []string{"app.deploy", "runtime.deploy", "minimal.deploy"} {
		data, err := os.ReadFile(filepath.Join("testdata", "flatpak", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = parseFlatpakDeploy(data)
	})
}
