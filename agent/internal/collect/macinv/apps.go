package macinv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// appDirs are the system-wide folders scanned for application bundles.
// /System/Applications holds the apps that ship with macOS 10.15 and later
// (Mail, Calendar, Terminal in its Utilities folder); they are listed like
// any other because their versions tell a patched machine from an old one.
var appDirs = []string{"/Applications", "/System/Applications"}

type infoPlist struct {
	Name         any `plist:"CFBundleName"`
	DisplayName  any `plist:"CFBundleDisplayName"`
	Identifier   any `plist:"CFBundleIdentifier"`
	ShortVersion any `plist:"CFBundleShortVersionString"`
	Version      any `plist:"CFBundleVersion"`
}

// Applications lists the .app bundles in /Applications, /System/Applications
// and each of homes' Applications folder. Bundles directly in a folder and
// one folder down (Utilities, a vendor's folder) are found; bundles nested
// inside other bundles are helpers, not applications, and are not looked
// for. Symbolic links are not followed: the app they point to is listed
// where it lives, or belongs to an installer that lists it (Homebrew).
func (s System) Applications(ctx context.Context, homes []string) ([]inventory.Package, error) {
	dirs := append([]string(nil), appDirs...)
	for _, h := range homes {
		dirs = append(dirs, path.Join(h, "Applications"))
	}
	var out []inventory.Package
	found := false
	for _, dir := range dirs {
		pkgs, err := s.appFolder(ctx, dir, true)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		out = append(out, pkgs...)
	}
	if !found {
		return nil, fmt.Errorf("applications: %w", fs.ErrNotExist)
	}
	return out, nil
}

// appFolder reads the bundles in dir (an absolute path on the inspected
// system) and, when descend is set, in its subfolders.
func (s System) appFolder(ctx context.Context, dir string, descend bool) ([]inventory.Package, error) {
	entries, err := os.ReadDir(s.path(dir))
	if err != nil {
		return nil, fmt.Errorf("applications: %w", err)
	}
	var out []inventory.Package
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // files, symbolic links, hidden folders
		}
		p := path.Join(dir, e.Name())
		if !strings.HasSuffix(e.Name(), ".app") {
			if descend {
				sub, err := s.appFolder(ctx, p, false)
				if err != nil {
					s.log().Debug("skip application folder", "path", p, "err", err)
				}
				out = append(out, sub...)
			}
			continue
		}
		pkg, err := s.bundle(p)
		if err != nil {
			s.log().Debug("skip application", "path", p, "err", err)
			continue
		}
		out = append(out, pkg)
	}
	return out, nil
}

// bundle reads one application's Info.plist. iOS and iPadOS apps installed
// on Apple silicon are wrapper bundles without Contents/: the real bundle,
// with its Info.plist at the top, sits behind the WrappedBundle link.
func (s System) bundle(p string) (inventory.Package, error) {
	var info infoPlist
	err := readPlist(s.path(path.Join(p, "Contents/Info.plist")), &info)
	if errors.Is(err, fs.ErrNotExist) {
		err = readPlist(s.path(path.Join(p, "WrappedBundle/Info.plist")), &info)
	}
	if err != nil {
		return inventory.Package{}, err
	}
	name := bundleText(info.DisplayName)
	if name == "" {
		name = bundleText(info.Name)
	}
	if name == "" {
		name = strings.TrimSuffix(path.Base(p), ".app")
	}
	version := bundleText(info.ShortVersion)
	if version == "" {
		version = bundleText(info.Version)
	}
	return inventory.Package{
		Name:     name,
		Version:  version,
		Source:   inventory.SourceMacOSApp,
		BundleID: bundleText(info.Identifier),
	}, nil
}

// bundleText returns a string key's value, or "" when the app was built
// with an unexpanded Xcode build variable in it ("$(PRODUCT_NAME)").
func bundleText(v any) string {
	s := plistString(v)
	if strings.Contains(s, "$(") || strings.Contains(s, "${") {
		return ""
	}
	return s
}
