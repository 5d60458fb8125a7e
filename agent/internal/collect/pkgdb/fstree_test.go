package pkgdb

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tree builds a root file system for a test: files with their content,
// and links, whose targets are written verbatim (absolute ones point into
// the tree's own root, as on the system it stands for).
type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) tree { return tree{t, t.TempDir()} }

func (tr tree) file(name string, data []byte) tree {
	tr.t.Helper()
	p := filepath.Join(tr.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tr.t.Fatal(err)
	}
	return tr
}

func (tr tree) fixture(name, testdata string) tree {
	tr.t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", testdata))
	if err != nil {
		tr.t.Fatal(err)
	}
	return tr.file(name, data)
}

func (tr tree) dir(name string) tree {
	tr.t.Helper()
	if err := os.MkdirAll(filepath.Join(tr.root, name), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	return tr
}

func (tr tree) link(name, target string) tree {
	tr.t.Helper()
	p := filepath.Join(tr.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		tr.t.Fatal(err)
	}
	return tr
}

// mtime sets a path's modification time (without following a link).
func (tr tree) mtime(name string, at time.Time) tree {
	tr.t.Helper()
	p := filepath.Join(tr.root, name)
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if err := lutimes(p, at); err != nil {
			tr.t.Fatal(err)
		}
		return tr
	}
	if err := os.Chtimes(p, at, at); err != nil {
		tr.t.Fatal(err)
	}
	return tr
}
