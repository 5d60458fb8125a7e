package macinv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// brewPrefixes are Homebrew's default prefixes with the architecture whose
// bottles each holds: /opt/homebrew on Apple silicon, /usr/local on Intel
// (and for an Intel Homebrew run under Rosetta on Apple silicon).
var brewPrefixes = []struct{ dir, arch string }{
	{"/opt/homebrew", "arm64"},
	{"/usr/local", "x86_64"},
}

// brewReceipt is the part of a keg's INSTALL_RECEIPT.json the inventory
// needs. time is when the keg was poured or built, in Unix seconds.
type brewReceipt struct {
	Time int64 `json:"time"`
}

// Homebrew lists formulae from each prefix's Cellar/<formula>/<version>
// and casks from Caskroom/<cask>/<version>. A formula may have several
// versions installed side by side until `brew cleanup`; each is listed.
// Formulae carry the prefix's architecture; casks carry none, which also
// keeps a cask apart from a formula of the same name ("docker").
func (s System) Homebrew(ctx context.Context) ([]inventory.Package, error) {
	var out []inventory.Package
	found := false
	for _, pre := range brewPrefixes {
		for _, part := range []struct {
			dir  string
			list func(context.Context, string, string) ([]inventory.Package, error)
		}{
			{"Cellar", s.cellar},
			{"Caskroom", s.caskroom},
		} {
			pkgs, err := part.list(ctx, path.Join(pre.dir, part.dir), pre.arch)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("homebrew: %w", err)
			}
			found = true
			out = append(out, pkgs...)
		}
	}
	if !found {
		return nil, fmt.Errorf("homebrew: %w", fs.ErrNotExist)
	}
	return out, nil
}

// kegs calls fn for every <name>/<version> folder under dir.
func (s System) kegs(ctx context.Context, dir string, fn func(name, version string) error) error {
	names, err := os.ReadDir(s.path(dir))
	if err != nil {
		return err
	}
	for _, n := range names {
		if !n.IsDir() || strings.HasPrefix(n.Name(), ".") {
			continue
		}
		versions, err := os.ReadDir(s.path(path.Join(dir, n.Name())))
		if err != nil {
			s.log().Debug("skip homebrew package", "path", path.Join(dir, n.Name()), "err", err)
			continue
		}
		for _, v := range versions {
			if err := ctx.Err(); err != nil {
				return err
			}
			// A cask's version folder may be a link when it was
			// installed by an older Homebrew; it is installed all the same.
			if strings.HasPrefix(v.Name(), ".") || !(v.IsDir() || v.Type()&fs.ModeSymlink != 0) {
				continue
			}
			if err := fn(n.Name(), v.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s System) cellar(ctx context.Context, dir, arch string) ([]inventory.Package, error) {
	var out []inventory.Package
	err := s.kegs(ctx, dir, func(name, version string) error {
		p := path.Join(dir, name, version, "INSTALL_RECEIPT.json")
		t, err := brewInstallTime(s.path(p))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log().Debug("homebrew receipt unreadable", "path", p, "err", err)
		}
		out = append(out, inventory.Package{
			Name: name, Version: version, Arch: arch,
			Source: inventory.SourceHomebrew, InstallTime: t,
		})
		return nil
	})
	return out, err
}

func brewInstallTime(p string) (time.Time, error) {
	f, err := os.Open(p)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	var r brewReceipt
	if err := json.NewDecoder(io.LimitReader(f, maxPlistBytes)).Decode(&r); err != nil {
		return time.Time{}, fmt.Errorf("decode: %w", err)
	}
	if r.Time <= 0 {
		return time.Time{}, nil
	}
	return time.Unix(r.Time, 0).UTC(), nil
}

// caskroom lists casks. Their install time is the name of the newest
// folder under .metadata/<version>/, which Homebrew names after the UTC
// time of the install ("20240305143012.123").
func (s System) caskroom(ctx context.Context, dir, _ string) ([]inventory.Package, error) {
	var out []inventory.Package
	err := s.kegs(ctx, dir, func(name, version string) error {
		out = append(out, inventory.Package{
			Name: name, Version: version, Source: inventory.SourceHomebrew,
			InstallTime: s.caskInstallTime(path.Join(dir, name, ".metadata", version)),
		})
		return nil
	})
	return out, err
}

func (s System) caskInstallTime(metadata string) time.Time {
	entries, err := os.ReadDir(s.path(metadata))
	if err != nil {
		return time.Time{}
	}
	var stamps []time.Time
	for _, e := range entries {
		t, err := time.Parse("20060102150405", strings.SplitN(e.Name(), ".", 2)[0])
		if err == nil {
			stamps = append(stamps, t)
		}
	}
	if len(stamps) == 0 {
		return time.Time{}
	}
	return slices.MaxFunc(stamps, time.Time.Compare).UTC()
}
