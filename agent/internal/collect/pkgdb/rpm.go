package pkgdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// rpm database backends and the file each keeps its packages in.
var rpmBackends = []struct{ name, file string }{
	{"sqlite", "rpmdb.sqlite"}, // rpm 4.16 and later: Fedora 33+, RHEL 9
	{"ndb", "Packages.db"},     // SUSE
	{"bdb", "Packages"},        // Berkeley DB: RHEL 7 and 8, SLES 12
}

// RPM lists the packages in the rpm database of the system whose root file
// system is at root ("/" for this machine). The database is found where
// the system's rpm macros put it (%_dbpath), else in /usr/lib/sysimage/rpm
// (openSUSE, newer Fedora) or /var/lib/rpm. The error wraps
// fs.ErrNotExist when the system has no rpm database.
func RPM(ctx context.Context, root string) ([]inventory.Package, error) {
	dbpath, backend := rpmMacros(root)
	dirs := []string{"/usr/lib/sysimage/rpm", "/var/lib/rpm"}
	if dbpath != "" {
		dirs = append([]string{dbpath}, dirs...)
	}
	for _, d := range dirs {
		dir, err := resolveIn(root, d)
		if err != nil {
			return nil, fmt.Errorf("rpm: %w", err)
		}
		pkgs, err := rpmDir(ctx, dir, backend)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return pkgs, err
	}
	return nil, fmt.Errorf("rpm: no database in %s: %w", strings.Join(dirs, " or "), fs.ErrNotExist)
}

// RPMDir lists the packages in the rpm database directory dir (what rpm
// calls --dbpath), whichever backend wrote it.
func RPMDir(ctx context.Context, dir string) ([]inventory.Package, error) {
	return rpmDir(ctx, dir, "")
}

// rpmDir reads the database of the preferred backend if its file is in
// dir, else the first backend whose file is.
func rpmDir(ctx context.Context, dir, prefer string) ([]inventory.Package, error) {
	order := slices.Clone(rpmBackends)
	if i := slices.IndexFunc(order, func(b struct{ name, file string }) bool { return b.name == prefer }); i > 0 {
		order[0], order[i] = order[i], order[0]
	}
	for _, b := range order {
		path := filepath.Join(dir, b.file)
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rpm: %w", err)
		}
		pkgs, err := readRPMFile(ctx, f, path, b.name)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("rpm %s database %s: %w", b.name, path, err)
		}
		return pkgs, nil
	}
	return nil, fmt.Errorf("rpm: no database in %s: %w", dir, fs.ErrNotExist)
}

func readRPMFile(ctx context.Context, f *os.File, path, backend string) ([]inventory.Package, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var out []inventory.Package
	add := func(blob []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := parseRPMHeader(blob)
		if err != nil {
			return err
		}
		if !h.isPseudo() {
			out = append(out, h.pkg())
		}
		return nil
	}
	switch backend {
	case "sqlite":
		err = readRPMSQLite(f, fi.Size(), path+"-wal", add)
	case "ndb":
		err = readNDB(f, fi.Size(), add)
	case "bdb":
		err = readBDBHash(f, fi.Size(), func(key, val []byte) error {
			if !bdbIsPackage(key) {
				return nil
			}
			return add(val)
		})
	}
	if err != nil {
		return nil, err
	}
	SortPackages(out)
	return out, nil
}

// bdbIsPackage reports whether a Packages key names a header: keys are
// 4-byte header numbers, and older rpm kept the next free number under
// key 0.
func bdbIsPackage(key []byte) bool {
	return len(key) == 4 && binary.LittleEndian.Uint32(key) != 0
}

// readRPMSQLite calls add with the blob column of every row of the
// Packages table, reading the write-ahead log beside the file if present.
func readRPMSQLite(f *os.File, size int64, walPath string, add func([]byte) error) error {
	var db *sqliteDB
	wal, err := os.Open(walPath)
	switch {
	case err == nil:
		defer wal.Close()
		wfi, err := wal.Stat()
		if err != nil {
			return err
		}
		db, err = openSQLite(f, size, wal, wfi.Size())
		if err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist):
		if db, err = openSQLite(f, size, nil, 0); err != nil {
			return err
		}
	default:
		return err
	}
	return scanRPMSQLite(db, add)
}

func scanRPMSQLite(db *sqliteDB, add func([]byte) error) error {
	root, err := db.tableRoot("Packages")
	if err != nil {
		return err
	}
	return db.scanTable(root, func(_ int64, rec []byte) error {
		// Packages(hnum INTEGER PRIMARY KEY, blob BLOB): hnum is the rowid
		// and stored as NULL, so the blob is the second column.
		cols, err := recordColumns(rec, 2)
		if err != nil {
			return err
		}
		if !cols[1].isBlob() {
			return corrupt("Packages row without a blob")
		}
		return add(cols[1].data)
	})
}

// rpmMacros returns %_dbpath and %_db_backend as the system's macro files
// set them, when they are plain values: rpm reads /usr/lib/rpm/macros,
// then macros.d, then /etc/rpm, later definitions winning. A value built
// from other macros is expanded only for the few directory macros every
// distribution defines the same way; anything else is ignored and the
// usual locations are tried instead.
func rpmMacros(root string) (dbpath, backend string) {
	var files []string
	for _, pat := range []string{"/usr/lib/rpm/macros", "/usr/lib/rpm/macros.d/macros.*", "/etc/rpm/macros", "/etc/rpm/macros.*"} {
		p, err := resolveIn(root, filepath.Dir(pat))
		if err != nil {
			continue
		}
		m, _ := filepath.Glob(filepath.Join(p, filepath.Base(pat)))
		files = append(files, m...)
	}
	expand := strings.NewReplacer("%{_var}", "/var", "%{_localstatedir}", "/var",
		"%{_usr}", "/usr", "%{_prefix}", "/usr", "%{_sharedstatedir}", "/var/lib")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// /usr/lib/rpm/macros is a thousand lines; look only at the few
		// that define %_db... rather than splitting every one.
		for {
			i := bytes.Index(data, []byte("%_db"))
			if i < 0 {
				break
			}
			start := bytes.LastIndexByte(data[:i], '\n') + 1
			end := bytes.IndexByte(data[i:], '\n')
			if end < 0 {
				end = len(data) - i
			}
			line := data[start : i+end]
			data = data[i+end:]
			fields := strings.Fields(string(line))
			if len(fields) != 2 || !strings.HasPrefix(fields[0], "%_db") {
				continue // not a definition at the start of a line
			}
			v := expand.Replace(fields[1])
			switch {
			case fields[0] == "%_dbpath" && strings.HasPrefix(v, "/") && !strings.Contains(v, "%"):
				dbpath = v
			case fields[0] == "%_db_backend" && !strings.Contains(v, "%"):
				backend = v
			}
		}
	}
	return dbpath, backend
}
