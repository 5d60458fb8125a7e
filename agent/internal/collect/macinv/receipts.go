package macinv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// receiptDirs are where Installer records each package it installed, as
// one <identifier>.plist beside its bill of materials. macOS 10.15 and later
// keep the receipts of the OS's own packages under /System; pkgutil --pkgs
// lists both folders.
var receiptDirs = []string{"/private/var/db/receipts", "/System/Library/Receipts"}

type receipt struct {
	Identifier  string    `plist:"PackageIdentifier"`
	Version     string    `plist:"PackageVersion"`
	InstallDate time.Time `plist:"InstallDate"`
}

// Receipts lists installer packages from their receipts, named by package
// identifier ("com.microsoft.Word"), with the time Installer finished.
func (s System) Receipts(ctx context.Context) ([]inventory.Package, error) {
	var out []inventory.Package
	found := false
	for _, dir := range receiptDirs {
		entries, err := os.ReadDir(s.path(dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("receipts: %w", err)
		}
		found = true
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".plist") {
				continue // the .bom files
			}
			p := path.Join(dir, e.Name())
			var r receipt
			if err := readPlist(s.path(p), &r); err != nil {
				s.log().Debug("skip receipt", "path", p, "err", err)
				continue
			}
			if r.Identifier == "" {
				r.Identifier = strings.TrimSuffix(e.Name(), ".plist")
			}
			out = append(out, inventory.Package{
				Name:        r.Identifier,
				Version:     r.Version,
				Source:      inventory.SourcePkgutil,
				InstallTime: utcSecond(r.InstallDate),
			})
		}
	}
	if !found {
		return nil, fmt.Errorf("receipts: %w", fs.ErrNotExist)
	}
	return out, nil
}

// utcSecond is t in UTC to the second, as the document keeps times; the
// zero time stays zero.
func utcSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}
