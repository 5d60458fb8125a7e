package wininv

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// checkGolden compares v, as indented JSON, with testdata/golden/name.json.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := count(want), count(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// loadReg parses testdata/registry/name.
func loadReg(t *testing.T, name string) *Key {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "registry", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	root, err := ParseReg(data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return root
}

// readJSON decodes testdata/powershell/name, which PowerShell's
// ConvertTo-Json wrote: an array, or a bare object when there was one item.
func readJSON[T any](t *testing.T, name string) []T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "powershell", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	data = bytes.TrimPrefix(data, []byte{0xef, 0xbb, 0xbf})
	var list []T
	if err := json.Unmarshal(data, &list); err == nil {
		return list
	}
	var one T
	if err := json.Unmarshal(data, &one); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return []T{one}
}

// psSID reads a SecurityIdentifier as ConvertTo-Json writes it: an object
// whose Value is the string form (or, from some scripts, the string alone).
type psSID string

func (s *psSID) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = psSID(str)
		return nil
	}
	var obj struct{ Value string }
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	*s = psSID(obj.Value)
	return nil
}

// dump renders a key tree as sorted text, for comparing trees.
func dump(k *Key) string {
	var b strings.Builder
	var walk func(k *Key, path string)
	walk = func(k *Key, path string) {
		b.WriteString("[" + path + "]\n")
		names := make([]string, 0, len(k.values))
		for n := range k.values {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			v := k.values[n]
			fmt.Fprintf(&b, "%s=%d:% x\n", n, v.Type, v.Data)
		}
		for _, c := range k.Subkeys() {
			walk(c, path+`\`+c.Name)
		}
	}
	walk(k, "")
	return b.String()
}
