package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The instrument package, seen from this directory.
const instrumentDir = "../.."

// TestGeneratedFileIsCurrent fails when store.Store or the optional
// interfaces changed and wrap_gen.go was not generated again.
func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := generate(filepath.Join(instrumentDir, defaultStoreDir), instrumentDir, defaultOut)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(instrumentDir, defaultOut))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run `go generate ./server/internal/store/instrument`", defaultOut)
	}
}

// TestGenerateRefuses: what the generated code could not spell is an
// error, not a wrapper that does not compile or hides a method.
func TestGenerateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, store, optional, want string
	}{
		{"a parameter named err", "Get(ctx context.Context, err int) error", "", `parameter "err"`},
		{"an optional method the store has", "Ping(ctx context.Context) error",
			"Ping(ctx context.Context) error", "already a method of the wrapper"},
		{"an interface of another package", "io.Closer", "", "only interfaces of its own package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storeDir, pkgDir := t.TempDir(), t.TempDir()
			write(t, filepath.Join(storeDir, "store.go"), "package store\n\nimport (\n\t\"context\"\n\t\"io\"\n)\n\n"+
				"var _ io.Closer\n\ntype Store interface {\n\t"+tc.store+"\n}\n\nvar _ context.Context\n")
			opt := ""
			if tc.optional != "" {
				opt = "//instrument:optional\ntype extra interface {\n\t" + tc.optional + "\n}\n"
			}
			write(t, filepath.Join(pkgDir, "instrument.go"), "package instrument\n\nimport \"context\"\n\nvar _ context.Context\n\n"+opt)
			_, err := generate(storeDir, pkgDir, defaultOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("generate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestGenerateSpellsTypes: types of the store package are qualified,
// other packages' are imported, variadic calls pass the slice on, and a
// method without an error result is forwarded untimed.
func TestGenerateSpellsTypes(t *testing.T) {
	storeDir, pkgDir := t.TempDir(), t.TempDir()
	write(t, filepath.Join(storeDir, "store.go"), `package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

type Row struct{}

type Reads interface {
	Rows(ctx context.Context, since time.Time, ids ...int64) (map[int64][]*Row, error)
}

type Store interface {
	Reads
	Stats() Row
	Conn(context.Context, pgx.Identifier) error
}
`)
	write(t, filepath.Join(pkgDir, "instrument.go"), "package instrument\n")
	src, err := generate(storeDir, pkgDir, defaultOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\t\"github.com/jackc/pgx/v5\"\n",
		"func (w *wrapper) Rows(ctx context.Context, since time.Time, ids ...int64) (_ map[int64][]*store.Row, err error) {",
		"\treturn w.inner.Rows(ctx, since, ids...)",
		"func (w *wrapper) Stats() store.Row {\n\treturn w.inner.Stats()\n}",
		"func (w *wrapper) Conn(a0 context.Context, a1 pgx.Identifier) (err error) {\n\tdefer w.observe(a0, \"Conn\", time.Now(), &err)",
		"func withOptional(w *wrapper) store.Store {\n\treturn w\n}",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated code lacks\n%s\n---\n%s", want, src)
		}
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
