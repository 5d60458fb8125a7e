package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// fakeFile is one file of a fakeEnv.
type fakeFile struct {
	data  string
	mode  fs.FileMode // permissions and type bits
	owner string
	uid   string
	size  int64 // when set, the size reported instead of len(data)
}

// fakeEnv is a hand-written Env: files from a map, registry values from a
// map, commands from a function, everything else from an inventory
// document. Hooks let a test make a call hang or panic.
type fakeEnv struct {
	Env
	platform string
	files    map[string]fakeFile
	registry map[string]string // `KEY` (key exists) or `KEY\name` -> value
	run      func(ctx context.Context, argv []string, limit int) (CommandResult, error)
	onGlob   func(ctx context.Context)
	// withhold, when set, is the ContentGate's answer; nil quotes all.
	withhold func(kind ContentKind, name string) bool
}

// MayQuote makes the fake a ContentGate that quotes everything unless
// withhold says otherwise.
func (f *fakeEnv) MayQuote(kind ContentKind, name string, _ []byte) bool {
	return f.withhold == nil || !f.withhold(kind, name)
}

func newFakeEnv(t *testing.T, inventoryFile string) *fakeEnv {
	t.Helper()
	doc := loadDoc(t, inventoryFile)
	return &fakeEnv{Env: InventoryEnv(doc, ""), platform: platformOf(doc)}
}

func loadDoc(t *testing.T, name string) inventory.Document {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "inventory", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc inventory.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

func (f *fakeEnv) Platform() string { return f.platform }

func (f *fakeEnv) Glob(ctx context.Context, pattern string) ([]string, error) {
	if f.onGlob != nil {
		f.onGlob(ctx)
	}
	var out []string
	for name := range f.files {
		if name == pattern { // Windows paths: "\" is not an escape there
			out = append(out, name)
			continue
		}
		ok, err := path.Match(pattern, name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *fakeEnv) Stat(ctx context.Context, p string) (FileStat, error) {
	file, ok := f.files[p]
	if !ok {
		return FileStat{}, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	size := file.size
	if size == 0 {
		size = int64(len(file.data))
	}
	return FileStat{Mode: file.mode, HasPerm: f.platform != "windows", Size: size, Owner: file.owner, OwnerID: file.uid}, nil
}

func (f *fakeEnv) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	file, ok := f.files[p]
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	if file.size > limit || int64(len(file.data)) > limit {
		return nil, fmt.Errorf("%s: %w", p, ErrFileTooLarge)
	}
	return []byte(file.data), nil
}

func (f *fakeEnv) Registry(ctx context.Context, key, name string) (string, error) {
	k := key
	if name != "" {
		k += `\` + name
	}
	v, ok := f.registry[k]
	if !ok {
		return "", fmt.Errorf("%s: %w", k, ErrNotFound)
	}
	return v, nil
}

func (f *fakeEnv) Run(ctx context.Context, argv []string, limit int) (CommandResult, error) {
	if f.run == nil {
		return CommandResult{}, ErrCommandsDisabled
	}
	return f.run(ctx, argv, limit)
}

// mustParse parses a YAML policy file given as a string, failing the test
// on any problem.
func mustParse(t *testing.T, src string) []Policy {
	t.Helper()
	ps, err := Parse(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return ps
}

// onePolicy wraps a check (YAML flow syntax) into a valid policy.
func onePolicy(t *testing.T, check string) Policy {
	t.Helper()
	return mustParse(t, "policies:\n  - id: p\n    title: T\n    severity: low\n    check: "+check+"\n")[0]
}

// evidenceText renders evidence one per line as "check passed detail".
func evidenceText(ev []Evidence) string {
	var b strings.Builder
	for _, e := range ev {
		fmt.Fprintf(&b, "%s %t %s\n", e.Check, e.Passed, e.Detail)
	}
	return b.String()
}
