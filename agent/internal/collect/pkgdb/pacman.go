package pkgdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// Pacman lists the packages in pacman's local database: one directory per
// package under DBPath/local (DBPath from /etc/pacman.conf, default
// /var/lib/pacman), each with a desc file of "%KEY%" lines each followed
// by its values and a blank line. %VERSION% already carries the epoch
// ("1:2.3-4") as pacman prints it; %PACKAGER% (who built the package) is
// the publisher; %INSTALLDATE% is seconds since the epoch. The error wraps
// fs.ErrNotExist on a system without pacman.
func Pacman(ctx context.Context, root string) ([]inventory.Package, error) {
	dbpath := pacmanDBPath(root)
	dir, err := resolveIn(root, filepath.Join(dbpath, "local"))
	if err != nil {
		return nil, fmt.Errorf("pacman: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pacman: %w", err)
	}
	var out []inventory.Package
	for _, e := range entries {
		if !e.IsDir() {
			continue // ALPM_DB_VERSION
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "desc"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // left behind by an interrupted transaction; pacman skips it too
		}
		if err != nil {
			return nil, fmt.Errorf("pacman: %w", err)
		}
		p, err := parsePacmanDesc(data)
		if err != nil {
			return nil, fmt.Errorf("pacman %s: %w", e.Name(), err)
		}
		out = append(out, p)
	}
	SortPackages(out)
	return out, nil
}

func parsePacmanDesc(data []byte) (inventory.Package, error) {
	p := inventory.Package{Source: inventory.SourcePacman}
	var key string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		switch {
		case len(line) == 0:
			key = ""
		case key == "" && len(line) > 2 && line[0] == '%' && line[len(line)-1] == '%':
			key = string(line[1 : len(line)-1])
		case key != "":
			v := string(line)
			switch key {
			case "NAME":
				p.Name = v
			case "VERSION":
				p.Version = v
			case "ARCH":
				p.Arch = v
			case "PACKAGER":
				p.Publisher = v
			case "INSTALLDATE":
				if sec, err := strconv.ParseInt(v, 10, 64); err == nil && sec > 0 {
					p.InstallTime = time.Unix(sec, 0).UTC()
				}
			}
			key = "" // every field read here has a single value
		}
	}
	if p.Name == "" || p.Version == "" {
		return p, errors.New("desc without %NAME% or %VERSION%")
	}
	return p, nil
}

// pacmanDBPath returns DBPath from pacman.conf's [options], or pacman's
// default.
func pacmanDBPath(root string) string {
	const def = "/var/lib/pacman"
	path, err := resolveIn(root, "/etc/pacman.conf")
	if err != nil {
		return def
	}
	f, err := os.Open(path)
	if err != nil {
		return def
	}
	defer f.Close()
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && section == "options" && strings.TrimSpace(k) == "DBPath" {
			if v = strings.TrimSpace(v); strings.HasPrefix(v, "/") {
				return v
			}
		}
	}
	return def
}
