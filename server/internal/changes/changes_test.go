package changes

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*/want.json")

// TestSectionFixtures diffs testdata/<section>/<case>/old.json against
// new.json and compares the changes with want.json.
func TestSectionFixtures(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures under testdata: %v", err)
	}
	seen := map[string]bool{}
	for _, dir := range dirs {
		section := filepath.Base(filepath.Dir(dir))
		t.Run(section+"/"+filepath.Base(dir), func(t *testing.T) {
			old := readFile(t, filepath.Join(dir, "old.json"))
			new := readFile(t, filepath.Join(dir, "new.json"))
			got, err := Section(section, old, new)
			if err != nil {
				t.Fatalf("Section: %v", err)
			}
			if got == nil {
				got = []Change{}
			}
			for _, c := range got {
				seen[c.Kind] = true
				if !KnownKind(c.Kind) {
					t.Errorf("change %+v has a kind missing from Kinds", c)
				}
			}
			raw, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, '\n')
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantPath, raw, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := readFile(t, wantPath); !bytes.Equal(raw, want) {
				t.Errorf("changes differ from %s:\ngot:\n%s\nwant:\n%s", wantPath, raw, want)
			}
			// Diffing a version against itself finds nothing.
			if same, err := Section(section, new, new); err != nil || len(same) != 0 {
				t.Errorf("new against itself: %+v, %v; want none", same, err)
			}
		})
	}
	// Every kind a section diff can produce is exercised by some fixture.
	for _, k := range Kinds {
		if k != FirstInventory && !seen[k] && !*update {
			t.Errorf("no fixture produces %s", k)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture (go test -update writes want.json): %v", err)
	}
	return b
}

func TestSectionErrors(t *testing.T) {
	cases := []struct {
		name     string
		section  string
		old, new string
		wantErr  bool
		wantNone bool
	}{
		{"old not a software list", "software", `{"packages":5}`, `{"packages":[]}`, true, false},
		{"new not a user list", "users", `{"users":[]}`, `[1,2]`, true, false},
		{"not JSON", "ports", `{`, `{"ports":[]}`, true, false},
		{"unknown section", "policies", `{"a":1}`, `{"a":2}`, false, true},
		{"null data is empty", "network", `null`, `{"interfaces":[]}`, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Section(c.section, []byte(c.old), []byte(c.new))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if c.wantNone && len(got) != 0 {
				t.Errorf("changes = %+v, want none", got)
			}
		})
	}
}

func TestSoftwarePairing(t *testing.T) {
	pkg := func(name, version, arch, source string) Package { return Package{name, version, arch, source} }
	kinds := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Kind+" "+c.Subject+" "+c.Old+">"+c.New)
		}
		return out
	}
	cases := []struct {
		name                  string
		removed, added, after []Package
		want                  []string
	}{
		{
			name:    "one version for another is an upgrade",
			removed: []Package{pkg("openssl", "3.0.11-1", "amd64", "dpkg")},
			added:   []Package{pkg("openssl", "3.0.13-1", "amd64", "dpkg")},
			after:   []Package{pkg("openssl", "3.0.13-1", "amd64", "dpkg"), pkg("bash", "5.2", "amd64", "dpkg")},
			want:    []string{"software_upgraded openssl 3.0.11-1>3.0.13-1"},
		},
		{
			name:    "an older version is a downgrade",
			removed: []Package{pkg("openssl", "3.0.13-1", "amd64", "dpkg")},
			added:   []Package{pkg("openssl", "3.0.11-1", "amd64", "dpkg")},
			after:   []Package{pkg("openssl", "3.0.11-1", "amd64", "dpkg")},
			want:    []string{"software_downgraded openssl 3.0.13-1>3.0.11-1"},
		},
		{
			name:    "equal by dpkg rules but spelled differently",
			removed: []Package{pkg("x", "1.0", "", "dpkg")},
			added:   []Package{pkg("x", "1.0-0", "", "dpkg")},
			after:   []Package{pkg("x", "1.0-0", "", "dpkg")},
			want:    []string{"software_version_changed x 1.0>1.0-0"},
		},
		{
			name:    "another arch is not an upgrade",
			removed: []Package{pkg("libc6", "2.36", "i386", "dpkg")},
			added:   []Package{pkg("libc6", "2.37", "amd64", "dpkg")},
			after:   []Package{pkg("libc6", "2.37", "amd64", "dpkg")},
			want:    []string{"software_installed libc6 >2.37", "software_removed libc6 2.36>"},
		},
		{
			name:    "another source is not an upgrade",
			removed: []Package{pkg("firefox", "123.0", "", "snap")},
			added:   []Package{pkg("firefox", "124.0", "amd64", "dpkg")},
			after:   []Package{pkg("firefox", "124.0", "amd64", "dpkg")},
			// Groups sort by name, arch, source: the arch-less snap first.
			want: []string{"software_removed firefox 123.0>", "software_installed firefox >124.0"},
		},
		{
			name:    "kernels kept side by side: one installed, one removed",
			removed: []Package{pkg("kernel", "5.14.0-362", "x86_64", "rpm")},
			added:   []Package{pkg("kernel", "5.14.0-503", "x86_64", "rpm")},
			after:   []Package{pkg("kernel", "5.14.0-427", "x86_64", "rpm"), pkg("kernel", "5.14.0-503", "x86_64", "rpm")},
			want:    []string{"software_removed kernel 5.14.0-362>", "software_installed kernel >5.14.0-503"},
		},
		{
			name:    "two versions for one",
			removed: []Package{pkg("kernel", "1", "", "rpm")},
			added:   []Package{pkg("kernel", "2", "", "rpm"), pkg("kernel", "3", "", "rpm")},
			after:   []Package{pkg("kernel", "2", "", "rpm"), pkg("kernel", "3", "", "rpm")},
			want:    []string{"software_removed kernel 1>", "software_installed kernel >2", "software_installed kernel >3"},
		},
		{
			name: "nothing changed",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := kinds(Software(c.removed, c.added, c.after))
			if !slices.Equal(got, c.want) {
				t.Errorf("changes = %q, want %q", got, c.want)
			}
		})
	}
}
