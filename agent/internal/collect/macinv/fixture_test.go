package macinv

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"howett.net/plist"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files from the current output")

// binaryPlists are the fixture files that macOS writes as binary property
// lists. The tree keeps them as XML so that they can be read and reviewed;
// fixtureRoot converts them, so the tests exercise the binary decoder on
// the files that are binary on a real Mac (and one binary Info.plist, as
// some apps ship).
var binaryPlists = []string{
	"private/var/db/dslocal/nodes/Default/users/*.plist",
	"private/var/db/dslocal/nodes/Default/groups/*.plist",
	"private/var/db/receipts/com.apple.pkg.*.plist",
	"System/Library/Receipts/*.plist",
	"private/var/db/com.apple.xpc.launchd/disabled.plist",
	"Applications/Slack.app/Contents/Info.plist",
}

// fixtureRoot copies testdata/root to a temporary directory, turning the
// files named by binaryPlists into binary plists, and returns its path.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "root")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy fixture tree: %v", err)
	}
	converted := 0
	for _, g := range binaryPlists {
		matches, err := filepath.Glob(filepath.Join(dst, g))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(data, []byte("bplist")) {
				continue // already binary (or a deliberately broken one)
			}
			var v any
			if _, err := plist.Unmarshal(data, &v); err != nil {
				t.Fatalf("fixture %s: %v", m, err)
			}
			bin, err := plist.Marshal(v, plist.BinaryFormat)
			if err != nil {
				t.Fatalf("fixture %s: encode binary: %v", m, err)
			}
			if err := os.WriteFile(m, bin, 0o644); err != nil {
				t.Fatal(err)
			}
			converted++
		}
	}
	if converted < 10 {
		t.Fatalf("only %d fixture plists converted to binary; the globs no longer match the tree", converted)
	}
	return dst
}

// golden compares v, as indented JSON, with testdata/golden/name, or
// rewrites that file under -update.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func tool(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tools", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFixtureBinaryPlists checks that the converted files really are binary
// plists and still hold what the XML said, so that the tests below read
// the format macOS writes.
func TestFixtureBinaryPlists(t *testing.T) {
	root := fixtureRoot(t)
	p := filepath.Join(root, "private/var/db/dslocal/nodes/Default/users/alice.plist")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("bplist00")) {
		t.Fatalf("alice.plist starts with %q, want a binary plist", data[:8])
	}
	var u dsUser
	if err := readPlist(p, &u); err != nil {
		t.Fatal(err)
	}
	if first(u.Name) != "alice" || first(u.UID) != "501" || first(u.RealName) != "Alice Martin" {
		t.Errorf("decoded %+v", u)
	}
}
