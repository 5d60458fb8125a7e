package pkgdb

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

func TestAPK(t *testing.T) {
	want := []inventory.Package{
		{Name: "alpine-baselayout-data", Version: "3.6.5-r0", Arch: "x86_64", Source: "apk"},
		{Name: "busybox", Version: "1.36.1-r29", Arch: "x86_64", Source: "apk"},
		{Name: "musl", Version: "1.2.4_git20230717-r4", Arch: "x86_64", Source: "apk"},
	}
	for _, tc := range []struct {
		name string
		root func(t *testing.T) string
	}{
		{"lib", func(t *testing.T) string { return newTree(t).fixture("lib/apk/db/installed", "apk/installed").root }},
		{"usr-merged", func(t *testing.T) string {
			return newTree(t).fixture("usr/lib/apk/db/installed", "apk/installed").link("lib", "usr/lib").root
		}},
		{"usr-lib-only", func(t *testing.T) string {
			return newTree(t).fixture("usr/lib/apk/db/installed", "apk/installed").root
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := APK(context.Background(), tc.root(t))
			if err != nil {
				t.Fatal(err)
			}
			diffPackages(t, got, want)
		})
	}
	t.Run("absent", func(t *testing.T) {
		if _, err := APK(context.Background(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("stanza without version", func(t *testing.T) {
		root := newTree(t).file("lib/apk/db/installed", []byte("P:musl\nA:x86_64\n\n")).root
		if _, err := APK(context.Background(), root); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want a parse error", err)
		}
	})
}
