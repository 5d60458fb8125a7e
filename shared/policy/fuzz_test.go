package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with every fixture. Parse
// must never panic, and whatever it accepts must be a valid set: ids
// valid and unique, and the set valid again after a JSON round trip (what
// the server sends agents).
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join("testdata", "load", "*", "*.*"))
	for _, name := range append(seeds, more...) {
		if fi, err := os.Stat(name); err != nil || fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(head + "    check: {all: [{expr: 'true'}, {none: [{port: {listening: 23}}]}]}\n"))
	f.Add([]byte("x: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse("fuzz.yaml", data)
		if err != nil {
			if ps != nil {
				t.Fatal("policies returned with an error")
			}
			return
		}
		if len(ps) == 0 {
			t.Fatal("no policies and no error")
		}
		seen := map[string]bool{}
		for _, p := range ps {
			if !idPattern.MatchString(p.ID) || seen[p.ID] {
				t.Fatalf("accepted id %q", p.ID)
			}
			seen[p.ID] = true
		}
		if err := Validate("round trip", ps); err != nil {
			t.Fatalf("accepted set fails validation after a JSON round trip: %v", err)
		}
	})
}
