package pkgdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/steward-project/steward/shared/inventory"
)

// apkInstalled are where apk-tools keeps its installed database: /lib on
// every Alpine release so far, /usr/lib where the system is usr-merged.
var apkInstalled = []string{"/lib/apk/db/installed", "/usr/lib/apk/db/installed"}

// APK lists the packages in Alpine's installed database, a text file of
// one stanza per package with one-letter keys (P: name, V: version, A:
// architecture; apk-tools' "installed database" format). apk records no
// install time and no vendor: its m: line is the maintainer of the
// package's build recipe, not a publisher, so both are left empty. The
// error wraps fs.ErrNotExist on a system without apk.
func APK(ctx context.Context, root string) ([]inventory.Package, error) {
	for _, name := range apkInstalled {
		path, err := resolveIn(root, name)
		if err != nil {
			return nil, fmt.Errorf("apk: %w", err)
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("apk: %w", err)
		}
		pkgs, err := parseAPKInstalled(data)
		if err != nil {
			return nil, fmt.Errorf("apk %s: %w", path, err)
		}
		return pkgs, ctx.Err()
	}
	return nil, fmt.Errorf("apk: no installed database: %w", fs.ErrNotExist)
}

func parseAPKInstalled(data []byte) ([]inventory.Package, error) {
	var out []inventory.Package
	var cur inventory.Package
	flush := func() error {
		if cur == (inventory.Package{}) {
			return nil
		}
		if cur.Name == "" || cur.Version == "" {
			return fmt.Errorf("stanza %d without P: or V:", len(out)+1)
		}
		cur.Source = inventory.SourceAPK
		out = append(out, cur)
		cur = inventory.Package{}
		return nil
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		switch line[0] {
		case 'P':
			cur.Name = string(line[2:])
		case 'V':
			cur.Version = string(line[2:])
		case 'A':
			cur.Arch = string(line[2:])
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	SortPackages(out)
	return out, nil
}
