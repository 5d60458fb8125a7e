// File modes and owners, which the Linux fixtures are about, mean nothing
// on Windows, so the fixture tests run on Unix only.

//go:build !windows

package baselinetest

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/collect/wininv"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// fixturesDir holds one directory per fixture system:
//
//	inventory.json  the system's inventory document (shared/inventory format)
//	root/           files under the system's root (etc/..., proc/sys/...)
//	modes.txt       "MODE PATH" lines for files whose mode git cannot keep
//	registry.reg    the system's registry as `reg export` writes it (Windows)
const fixturesDir = "testdata"

// fixtureEnv is the agent's real Env (check.NewEnv) on a fixture root with
// two answers replaced, because the fixture is another OS than the one the
// test runs on: the platform comes from the fixture's inventory, and the
// registry from its export file. Everything else (files, packages,
// services, ports, expressions) is the agent's own code.
type fixtureEnv struct {
	policy.Env
	platform string
	registry *wininv.Key // nil: no registry, as on Linux and macOS
}

func (e fixtureEnv) Platform() string { return e.platform }

// Registry answers as the Windows Env does: numbers in decimal,
// multi-strings joined by newlines, other data in hex, and ErrNotFound for
// a missing key or value.
func (e fixtureEnv) Registry(ctx context.Context, key, name string) (string, error) {
	if e.registry == nil {
		return e.Env.Registry(ctx, key, name)
	}
	hive, sub, _ := strings.Cut(key, `\`)
	long := map[string]string{"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER",
		"HKCR": "HKEY_CLASSES_ROOT", "HKU": "HKEY_USERS", "HKCC": "HKEY_CURRENT_CONFIG"}
	if l, ok := long[strings.ToUpper(hive)]; ok {
		hive = l
	}
	k := e.registry.Lookup(hive + `\` + sub)
	if k == nil {
		return "", fmt.Errorf("key %s: %w", key, policy.ErrNotFound)
	}
	if name == "" {
		return "", nil
	}
	v, ok := k.Value(name)
	if !ok {
		return "", fmt.Errorf("value %s: %w", name, policy.ErrNotFound)
	}
	switch v.Type {
	case wininv.RegSZ, wininv.RegExpandSZ:
		return k.String(name), nil
	case wininv.RegDWORD, wininv.RegDWORDBigEndian, wininv.RegQWORD:
		n, _ := k.Uint(name)
		return strconv.FormatUint(n, 10), nil
	case wininv.RegMultiSZ:
		return strings.Join(k.Strings(name), "\n"), nil
	}
	return hex.EncodeToString(v.Data), nil
}

// loadFixture builds the Env for one fixture system. Its root is copied to
// a temporary directory so that modes.txt can set the permissions the
// policies check; the copy is owned by the test's user, so owner checks
// need the tests to run as root (uid 0 is "root" in every fixture's
// /etc/passwd).
func loadFixture(t *testing.T, name string) policy.Env {
	t.Helper()
	dir := filepath.Join(fixturesDir, name)
	raw, err := os.ReadFile(filepath.Join(dir, "inventory.json"))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var doc inventory.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("fixture %s: inventory.json: %v", name, err)
	}
	root := t.TempDir() // never "": that would be this machine
	if _, err := os.Stat(filepath.Join(dir, "root")); err == nil {
		if err := os.CopyFS(root, os.DirFS(filepath.Join(dir, "root"))); err != nil {
			t.Fatalf("fixture %s: copy root: %v", name, err)
		}
		if applyModes(t, filepath.Join(dir, "modes.txt"), root) && os.Geteuid() != 0 {
			t.Fatalf("fixture %s: its owner checks need files owned by uid 0; run the tests as root", name)
		}
	}
	env := fixtureEnv{
		Env:      check.NewEnv(context.Background(), check.Config{Root: root}, doc),
		platform: policy.InventoryEnv(doc, "").Platform(),
	}
	if data, err := os.ReadFile(filepath.Join(dir, "registry.reg")); err == nil {
		if env.registry, err = wininv.ParseReg(data); err != nil {
			t.Fatalf("fixture %s: registry.reg: %v", name, err)
		}
	}
	if env.platform == runtime.GOOS && env.registry == nil {
		return env.Env // nothing to replace
	}
	return env
}

// applyModes reads "MODE PATH" lines (octal mode, path under root) and
// reports whether the fixture has any.
func applyModes(t *testing.T, file, root string) bool {
	t.Helper()
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		modeText, path, ok := strings.Cut(line, " ")
		mode, err := strconv.ParseUint(modeText, 8, 32)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q", file, line)
		}
		if err := os.Chmod(filepath.Join(root, path), fs.FileMode(mode)); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return true
}
