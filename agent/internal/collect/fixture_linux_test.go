package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/*/golden.json from the collectors' output")

// fakeKernel answers from testdata/<case>/kernel.json what the live kernel
// would. A mount point missing from statfs fails as a FUSE mount of
// another user does.
type fakeKernel struct {
	Arch   string             `json:"arch"`
	Ifaces []netInterface     `json:"interfaces"`
	Statfs map[string]fsUsage `json:"statfs"`
}

func (k fakeKernel) interfaces() ([]netInterface, error) { return k.Ifaces, nil }

func (k fakeKernel) statfs(path string) (fsUsage, error) {
	u, ok := k.Statfs[path]
	if !ok {
		return fsUsage{}, &fs.PathError{Op: "statfs", Path: path, Err: fs.ErrPermission}
	}
	return u, nil
}

func (k fakeKernel) arch() string { return k.Arch }

// fixture copies testdata/<name>/root into a temporary directory, adds the
// dpkg info files listed in dpkg-info.txt with their modification times,
// and returns a Config reading that copy through the case's fake kernel.
func fixture(t *testing.T, name string) Config {
	t.Helper()
	dir := filepath.Join("testdata", name)
	root := t.TempDir()
	// CopyFS keeps symlinks as links; sysfs is mostly links, and the
	// collectors must follow them.
	if err := os.CopyFS(root, os.DirFS(filepath.Join(dir, "root"))); err != nil {
		t.Fatalf("copy fixture: %v", err)
	}
	createDpkgInfo(t, filepath.Join(dir, "dpkg-info.txt"), root)
	raw, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatalf("read fake kernel: %v", err)
	}
	var k fakeKernel
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatalf("parse %s/kernel.json: %v", dir, err)
	}
	return Config{Root: root, kernel: k}
}

func createDpkgInfo(t *testing.T, list, root string) {
	t.Helper()
	data, err := os.ReadFile(list)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	info := filepath.Join(root, "var/lib/dpkg/info")
	if err := os.MkdirAll(info, 0o755); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, stamp, _ := strings.Cut(line, " ")
		when, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			t.Fatalf("%s: %v", list, err)
		}
		p := filepath.Join(info, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
}

type golden struct {
	Sections map[string]json.RawMessage `json:"sections"`
	Errors   map[string]string          `json:"errors,omitempty"`
}

func TestCollectFixturesGolden(t *testing.T) {
	for _, name := range []string{"ubuntu-2socket", "debian-arm-container", "broken"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := fixture(t, name)
			doc := Collect(context.Background(), cfg)
			for section, raw := range doc.Sections {
				canon, err := inventory.CanonicalizeJSON(raw)
				if err != nil || !bytes.Equal(canon, raw) {
					t.Errorf("section %s is not canonical JSON: %s", section, raw)
				}
			}
			got, err := json.MarshalIndent(golden{doc.Sections, doc.Errors}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// Error messages name files under the temporary root.
			got = append(bytes.ReplaceAll(got, []byte(cfg.Root), []byte("$ROOT")), '\n')
			path := filepath.Join("testdata", name, "golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update after checking it):\n%s", path, got)
			}
		})
	}
}
