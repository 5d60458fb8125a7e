package pkgdb

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

func TestSnap(t *testing.T) {
	t1 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	t2 := time.Date(2024, 5, 2, 11, 30, 0, 0, time.UTC)
	// A live Debian/Ubuntu layout: mounted images under /snap, an older
	// revision kept beside the current one, /snap/bin and README to skip.
	live := func(t *testing.T, mount string) string {
		tr := newTree(t).
			fixture(mount+"/hello/38/meta/snap.yaml", "snap/hello.yaml").
			fixture(mount+"/hello/42/meta/snap.yaml", "snap/hello.yaml").
			link(mount+"/hello/current", "42").mtime(mount+"/hello/current", t1).
			fixture(mount+"/core22/1122/meta/snap.yaml", "snap/core22.yaml").
			link(mount+"/core22/current", "1122").mtime(mount+"/core22/current", t2).
			fixture(mount+"/multiarch_beta/7/meta/snap.yaml", "snap/multiarch.yaml").
			link(mount+"/multiarch_beta/current", "7").mtime(mount+"/multiarch_beta/current", t2).
			dir(mount+"/bin").file(mount+"/README", []byte("snaps live here\n"))
		return tr.root
	}
	liveWant := []inventory.Package{
		{Name: "core22", Version: "20240111", Arch: "amd64", Source: "snap", InstallTime: t2},
		{Name: "hello", Version: "2.10", Arch: "amd64", Source: "snap", InstallTime: t1},
		{Name: "multiarch_beta", Version: "1.0+git3.abcdef", Source: "snap", InstallTime: t2},
	}
	for _, tc := range []struct {
		name string
		root func(t *testing.T) string
		want []inventory.Package
	}{
		{"debian /snap", func(t *testing.T) string { return live(t, "snap") }, liveWant},
		{"fedora /var/lib/snapd/snap", func(t *testing.T) string { return live(t, "var/lib/snapd/snap") }, liveWant},
		{"absolute /snap link", func(t *testing.T) string {
			root := live(t, "var/lib/snapd/snap")
			newTreeAt(t, root).link("snap", "/var/lib/snapd/snap")
			return root
		}, liveWant},
		{"offline image, not mounted", func(t *testing.T) string {
			return newTree(t).dir("snap/hello/42").link("snap/hello/current", "42").
				mtime("snap/hello/current", t1).root
		}, []inventory.Package{{Name: "hello", Source: "snap", InstallTime: t1}}},
		{"no snaps yet", func(t *testing.T) string { return newTree(t).dir("snap").root }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Snap(context.Background(), tc.root(t))
			if err != nil {
				t.Fatal(err)
			}
			diffPackages(t, got, tc.want)
		})
	}
	t.Run("absent", func(t *testing.T) {
		if _, err := Snap(context.Background(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
}

func newTreeAt(t *testing.T, root string) tree { return tree{t, root} }
