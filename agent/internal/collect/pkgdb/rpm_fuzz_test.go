package pkgdb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addFileSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "rpm", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files %s: %v", pattern, err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// The readers take files an attacker with write access to the image
// could craft; whatever the bytes, they must return an error, never panic
// or run away with memory.

func FuzzParseRPMHeader(f *testing.F) {
	addFileSeeds(f, "headers/*.hdr")
	f.Fuzz(func(t *testing.T, blob []byte) {
		h, err := parseRPMHeader(blob)
		if err == nil && (h.name == "" || h.version == "") {
			t.Fatalf("accepted a header without name or version: %+v", h)
		}
	})
}

func FuzzSQLite(f *testing.F) {
	addFileSeeds(f, "sqlite-small/rpmdb.sqlite")
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := openSQLite(bytes.NewReader(data), int64(len(data)), nil, 0)
		if err != nil {
			return
		}
		_ = scanRPMSQLite(db, func(blob []byte) error {
			_, _ = parseRPMHeader(blob)
			return nil
		})
	})
}

func FuzzNDB(f *testing.F) {
	addFileSeeds(f, "ndb/Packages.db")
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = readNDB(bytes.NewReader(data), int64(len(data)), func(blob []byte) error {
			_, _ = parseRPMHeader(blob)
			return nil
		})
	})
}

func FuzzBDB(f *testing.F) {
	addFileSeeds(f, "bdb-512/Packages")
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = readBDBHash(bytes.NewReader(data), int64(len(data)), func(_, val []byte) error {
			_, _ = parseRPMHeader(val)
			return nil
		})
	})
}

// TestRPMCorruptDatabases damages every committed database in ways that
// happen to real files (truncation, a zeroed or flipped region) and checks
// the readers fail cleanly, deterministically and quickly.
func TestRPMCorruptDatabases(t *testing.T) {
	for _, name := range []string{"ndb/Packages.db", "bdb/Packages", "bdb-512/Packages", "sqlite-small/rpmdb.sqlite"} {
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile(filepath.Join("testdata", "rpm", name))
			if err != nil {
				t.Fatal(err)
			}
			read := func(data []byte) error {
				r := bytes.NewReader(data)
				add := func(blob []byte) error { _, err := parseRPMHeader(blob); return err }
				switch filepath.Base(name) {
				case "Packages.db":
					return readNDB(r, int64(len(data)), add)
				case "Packages":
					return readBDBHash(r, int64(len(data)), func(k, v []byte) error {
						if !bdbIsPackage(k) {
							return nil
						}
						return add(v)
					})
				default:
					db, err := openSQLite(r, int64(len(data)), nil, 0)
					if err != nil {
						return err
					}
					return scanRPMSQLite(db, add)
				}
			}
			if err := read(orig); err != nil {
				t.Fatalf("intact file: %v", err)
			}
			step := max(len(orig)/97, 1)
			failures := 0
			for off := 0; off < len(orig); off += step {
				if read(orig[:off]) == nil && off < len(orig)/2 {
					t.Errorf("truncated to %d of %d bytes and still read", off, len(orig))
				}
				for _, fill := range []byte{0x00, 0xff} {
					damaged := bytes.Clone(orig)
					for i := off; i < min(off+64, len(damaged)); i++ {
						damaged[i] = fill
					}
					if read(damaged) != nil {
						failures++
					}
				}
			}
			if failures == 0 {
				t.Error("no damaged copy was refused")
			}
		})
	}
}
